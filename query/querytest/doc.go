// Package querytest holds the query API's test helpers: a chDB engine on a
// fresh, migrated database per test, a deterministic dataset of traces,
// access events and TLS connections as OTLP (what producers publish), and
// the ways to load it: through the real pipeline (OTLP → JetStream →
// ingest) and, for bulk loads, through ingest's row mapping straight into
// the engine.
package querytest
