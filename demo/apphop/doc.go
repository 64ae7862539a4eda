// Package apphop gives the demo's FastAPI application its hop in the
// timeline. The application (demo/app/demo_app.py) prints one JSON "hop"
// line per request; Relay reads those lines and sends, with the
// OpenTelemetry Go SDK, the application's server span (continuing the
// traceparent the proxy tap sent) and its tapline.access event with source
// app. Lines that are not hop lines (the application's own logs) are passed
// to a writer untouched.
package apphop
