// Package configtype holds the small value types that configuration sections
// share: secrets that are masked when printed, byte sizes written as "10GiB",
// TLS settings for clients and servers, and the error type that carries the
// YAML key a validation message is about.
//
// It must not import any Tapline package: every section (bus, store,
// collector, ...) imports it, and the top-level config package imports the
// sections.
package configtype
