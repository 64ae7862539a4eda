package querytest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/schema"
)

// One chDB data directory serves the whole test binary (chDB allows one per
// process): chdbtest's, so that engines of other test helpers in the same
// binary work too. Each engine gets its own database in it.
var dbCounter atomic.Uint64

// Cleanup removes the data directory the engines of this test binary
// shared. Call it from TestMain after m.Run, once every engine is closed.
func Cleanup() { _ = chdbtest.RemoveDir() }

// SkipWithoutChDB skips the test when libchdb.so is missing, unless CI is
// set, where a missing library is a failure.
func SkipWithoutChDB(t testing.TB) {
	t.Helper()
	chdbtest.RequireLibrary(t)
}

// OpenEngine opens a chDB engine on a fresh database, migrated without TTLs
// (tests use fixed dates in the past). The engine is closed and its
// database dropped when the test ends.
func OpenEngine(t testing.TB) store.Engine {
	t.Helper()
	SkipWithoutChDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, closeFn, err := Open(ctx, t.Name())
	require.NoError(t, err)
	t.Cleanup(closeFn)
	return eng
}

// Open opens a chDB engine on a fresh, migrated database named after name
// (made unique); closeFn drops the database and closes the engine. Call
// SkipWithoutChDB first.
func Open(ctx context.Context, name string) (eng store.Engine, closeFn func(), err error) {
	db := fmt.Sprintf("qt%d_%s", dbCounter.Add(1), strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, name))
	if len(db) > 60 {
		db = db[:60]
	}
	e, err := chdb.Open(ctx, chdb.Options{Path: chdbtest.Dir(), Database: db, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, err
	}
	closeFn = func() {
		_ = e.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db, nil)
		_ = e.Close()
	}
	opts := schema.DefaultOptions()
	opts.Database = db
	opts.Retention = schema.Retention{}
	if _, err := schema.Migrate(ctx, e, opts); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("migrate %s: %w", db, err)
	}
	// Ingest records the stream sequences of each batch; until a migration
	// adds the column, add it here as ingest's own test helper does.
	if err := e.Exec(ctx, "ALTER TABLE ingest_ledger ADD COLUMN IF NOT EXISTS Sequences Array(UInt64) CODEC(Delta, ZSTD(1))", nil); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("ledger Sequences column: %w", err)
	}
	return e, closeFn, nil
}
