// Package identity works out who is calling the proxy tap: the verified client
// certificate of the connection (SPIFFE ID, subject, issuer, serial,
// fingerprint), a bearer JWT validated against a JWKS, and the
// x-forwarded-client-cert header, which is believed only when the direct peer
// is a configured trusted proxy.
//
// Resolve records every identity it saw, in precedence order, and picks one
// principal:
//
//  1. a valid bearer JWT (type jwt, principal = its subject);
//  2. the nearest hop of x-forwarded-client-cert sent by a trusted proxy
//     (type spiffe when it names a SPIFFE ID, else cert);
//  3. the verified client certificate of the connection (type spiffe when it
//     is an X509-SVID, else cert, principal = subject DN);
//  4. nobody (type anonymous, empty principal).
//
// The package decides nothing about access (package policy does) and never
// reads headers other than Authorization and x-forwarded-client-cert.
package identity
