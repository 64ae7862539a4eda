package ingest

import "errors"

// Errors of the Ingester's lifecycle.
var (
	ErrStarted = errors.New("ingest: already started")
	ErrStopped = errors.New("ingest: shut down")
)

// ErrLedgerSchema is returned (and retried, and logged) when ingest_ledger
// lacks a column ingest writes: the schema migrations have not been applied.
var ErrLedgerSchema = errors.New("ingest: ingest_ledger lacks columns; apply the schema migrations (tapline migrate)")

// errAbandoned means a batch was left unacknowledged because the Ingester
// is stopping (or, in tests, crashing) before the batch was stored.
var errAbandoned = errors.New("ingest: batch abandoned")
