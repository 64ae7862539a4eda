// Package telemetry builds the OpenTelemetry Go SDK providers the demo's
// programs send with: traces and logs over OTLP/HTTP to Tapline's
// collector, batched briefly so the demo's data shows up within a second.
// It sets no global providers.
package telemetry
