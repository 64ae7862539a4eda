// Package accesslog maps access-log lines of Nginx, Envoy and Istio to
// Tapline access events: OTLP log records whose event name is
// event.AccessEvent, with the attributes pinned in package event.
//
// It is the one mapping code path shared by the nginx receiver (which maps
// the lines it receives) and the access-log processor (which maps lines and
// Envoy records that arrive through any other receiver). Values are
// normalised here and nowhere else: TLS versions as "1.3", cipher suites by
// their IANA names, certificate hashes and serials as uppercase hex, times
// in UTC.
//
// The package parses and maps only: it does no I/O, keeps no state between
// calls and never panics on hostile input; a line it cannot map fully keeps
// what could be read and says why in event.AttrParseError.
package accesslog
