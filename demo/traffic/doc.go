// Package traffic is the demo's traffic generator: a fixed mix of callers
// (valid ones, callers the policy denies, an expired client certificate, a
// caller without a certificate, slow and failing endpoints, a legacy TLS
// client) sent through Nginx and straight to the proxy tap. Each request is
// a client span of the OpenTelemetry Go SDK whose traceparent the request
// carries, so the tap and the application continue the caller's trace.
package traffic
