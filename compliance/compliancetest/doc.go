// Package compliancetest gives compliance tests and benchmarks their data:
// an embedded ClickHouse with Tapline's schema, datasets of access events,
// TLS connections, spans, logs and ingest ledger rows written through
// store.Engine batches into the real tables, a clean day that passes every
// check and the known violations the scenario tests add to it, and a
// manual clock for the scheduler.
package compliancetest
