// Package proxytest holds what the proxy tap's tests share: a certificate
// authority that issues the certificates a test needs (SPIFFE workloads,
// expired, unknown CA), a JWT issuer with a JWKS, an embedded NATS JetStream
// server with the Tapline stream and a decoder for the events on it, and a
// launcher for the FastAPI test application.
//
// It is for tests only; nothing in the proxy imports it.
package proxytest
