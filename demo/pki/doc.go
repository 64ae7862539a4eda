// Package pki makes the demo's certificates: one certificate authority,
// the server certificates of Nginx and the proxy tap, and the client
// certificates of the demo's callers (X509-SVIDs with SPIFFE IDs in the
// trust domain tapline.demo, a plain certificate for an edge partner, and
// one that has expired). They are written once into a directory and reused
// on later runs. It is for demos and tests, never for production keys.
package pki
