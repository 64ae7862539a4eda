// Package xfcc parses the x-forwarded-client-cert (XFCC) header that Envoy and
// Istio sidecars use to tell an upstream who the downstream TLS client was.
//
// The header is a comma-separated list of elements, one per proxy hop; each
// element is a semicolon-separated list of Key=Value pairs with the keys By,
// Hash, Cert, Chain, Subject, URI and DNS. Values holding ',', ';', '=' or
// '"' are double-quoted (Subject always is), with backslash escapes inside
// the quotes; Cert and Chain are URL-encoded PEM.
//
// The package only parses: it does not verify certificates, nor decide
// whether the header can be trusted (only a header set by a proxy that
// sanitises what clients send can be).
package xfcc
