// Command tapline is Tapline's one binary. `tapline run` starts the
// all-in-one process (embedded NATS JetStream, embedded ClickHouse, schema
// migrations, the HTTP listener); `tapline migrate` applies the schema;
// `tapline config print` shows the effective configuration with secrets
// masked; `tapline version` prints the build.
//
// Every subcommand reads the same configuration: the YAML file (--config or
// $TAPLINE_CONFIG), TAPLINE_* environment variables, then flags. Errors are
// one line on stderr with exit status 1; usage errors exit with 2.
//
// This package assembles parts and must hold no logic of its own beyond
// that: each part lives in its package (bus, store, service, ...).
package main
