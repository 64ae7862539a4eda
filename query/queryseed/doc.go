// Package queryseed generates realistic telemetry for the query API's
// benchmarks and demos (requests through nginx or the mesh, the tap and the
// app, with their traces and the tap's TLS connections, spread over a time
// window) and writes it through the real pipeline: OTLP messages on
// JetStream, stored by ingest. The tapline-seed command (cmd/tapline-seed)
// runs it against a data directory; bench_test.go measures the API on it.
//
// It must not write rows any other way: what the benchmarks read is what
// production would have stored.
package queryseed
