// Package storetest is the conformance suite every store.Engine must pass:
// the embedded chDB engine runs it in its tests always, the ClickHouse
// server engine when a server is configured. The suite only uses the
// store.Engine interface and creates (and drops) its own tables in the
// engine's database, so engines are held to one behaviour.
//
// It is a test helper: import it only from _test.go files.
package storetest
