package compliancetest

import (
	"testing"

	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/store"
)

// Engine returns an embedded ClickHouse engine on a database of its own
// with Tapline's schema (and the ledger columns ingest writes). It skips
// the test where libchdb.so is missing, unless CI is set.
func Engine(tb testing.TB) store.Engine {
	tb.Helper()
	return ingesttest.Engine(tb)
}
