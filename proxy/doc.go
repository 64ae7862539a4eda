// Package proxy is Tapline's mTLS reverse-proxy tap (`tapline proxy`): TLS
// listeners in front of FastAPI services (HTTP/1.1 or h2c upstreams) that
// route by host and path prefix, establish who is calling (package
// identity), apply each route's policy (package policy), forward with
// trusted identity headers, traceparent and X-Request-ID, and record a
// tapline.tls event per connection and a tapline.access event and server
// span per request (package tap).
//
// The proxy performs TLS handshakes itself, before the HTTP server sees a
// connection, so that failed handshakes are classified and recorded; it
// reloads certificate and CA files without dropping connections and
// re-checks client certificates on resumed sessions. Plain HTTP/1.1
// requests are served by the package's own loop on the connection's
// goroutine and forwarded by writing the request head straight onto a
// kept-alive upstream connection (h1server.go, forward.go); everything else
// goes through net/http's server and httputil.ReverseProxy. Recording never
// blocks a request: the bus being away costs events (counted and reported),
// never availability.
//
// New builds a Proxy from Config; Start listens, Shutdown drains. The
// package must not decide identity or policy itself, nor encode events: it
// wires the subpackages into the request path.
package proxy
