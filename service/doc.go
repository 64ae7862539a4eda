// Package service runs the parts of a tapline process as one: components
// started in order and stopped in reverse (a half-finished start is undone),
// a readiness state (NotReady, Ready, Stopping), and the main HTTP listener
// that serves /healthz, /readyz and /metrics (from a prometheus.Registry the
// process owns, never the global one) and on which the query API and the UI
// mount their handlers.
//
// It knows nothing about what the components do: the tapline command builds
// them from the configuration and adds them here.
package service
