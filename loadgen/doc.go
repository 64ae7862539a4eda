// Package loadgen generates OTLP/gRPC trace load for benchmarks: several
// workers, each on its own connection, send export requests of realistic
// server spans, as fast as the receiver answers or at a set rate, and count
// what the receiver accepted.
//
// It is a lean client on purpose: a request is encoded once and only its
// trace ids are rewritten before each send (every request is unique, so
// no deduplication short-cuts the receiver's work), so the generator costs
// little CPU next to the receiver it measures. It does not retry: a refused
// request is counted as failed.
package loadgen
