package clickhouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
	"github.com/tapline/tapline/store/schema/schematest"
	"github.com/tapline/tapline/store/storetest"
)

// DSNEnv names the ClickHouse server the server tests run against.
const DSNEnv = "TAPLINE_TEST_CLICKHOUSE_DSN"

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// openServer opens an engine on a fresh database of the test server, or
// skips the test when no server is configured. The database is dropped at
// the end of the test.
func openServer(t *testing.T) *Engine {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		t.Skip(DSNEnv + " is not set: no ClickHouse server to test against")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := strings.ToLower(fmt.Sprintf("tapline_test_%s_%d", nonIdent.ReplaceAllString(t.Name(), "_"), time.Now().UnixNano()))
	eng, err := Open(ctx, Options{DSN: dsn, Database: db, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, eng.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(db)+" SYNC", nil))
		require.NoError(t, eng.Close())
	})
	return eng
}

// The engine conformance suite, against the server.
func TestServerConformance(t *testing.T) {
	if os.Getenv(DSNEnv) == "" {
		t.Skip(DSNEnv + " is not set: no ClickHouse server to test against")
	}
	storetest.Run(t, func(t *testing.T) store.Engine { return openServer(t) })
}

func TestServerMigrations(t *testing.T) {
	eng := openServer(t)
	opts := schema.DefaultOptions()
	opts.Database = "" // the engine's
	got := schematest.Run(t, eng, opts)
	want, err := os.ReadFile(filepath.Join("..", "schema", "testdata", "columns.golden"))
	require.NoError(t, err)
	require.Equal(t, string(want), got, "a server's tables differ from chDB's")
}

func TestServerErrors(t *testing.T) {
	eng := openServer(t)
	ctx := context.Background()
	_, err := eng.Query(ctx, "SELECT * FROM no_such_table", nil)
	require.Equal(t, 60, store.ErrorCode(err))
	var se *store.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, "UNKNOWN_TABLE", se.Name)
	require.Equal(t, 62, store.ErrorCode(eng.Exec(ctx, "SELEC 1", nil)))
}

func TestServerParams(t *testing.T) {
	eng := openServer(t)
	ctx := context.Background()
	hostile := "x'; DROP TABLE t; --\\\t\n\"`\x00é"
	rows, err := eng.Query(ctx, "SELECT {s:String}, {a:Array(String)}, {t:DateTime64(9)}, {n:UInt64}",
		store.Params{"s": hostile, "a": []string{hostile, ""}, "t": time.Unix(0, 1_700_000_000_123_456_789), "n": uint64(1<<64 - 1)})
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "%v", rows.Err())
	var (
		s  string
		a  []string
		ts time.Time
		n  uint64
	)
	require.NoError(t, rows.Scan(&s, &a, &ts, &n))
	require.Equal(t, hostile, s)
	require.Equal(t, []string{hostile, ""}, a)
	require.Equal(t, time.Unix(0, 1_700_000_000_123_456_789).UTC(), ts)
	require.Equal(t, uint64(1<<64-1), n)
}

// A batch sent twice with the same dedup token is stored once.
func TestServerDedupToken(t *testing.T) {
	eng := openServer(t)
	ctx := context.Background()
	require.NoError(t, eng.Exec(ctx, "CREATE TABLE d (x UInt64) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100", nil))
	for range 2 {
		b, err := eng.PrepareBatch(ctx, "d", []string{"x"}, store.WithDedupToken("stream:1-3"))
		require.NoError(t, err)
		for i := range 3 {
			require.NoError(t, b.Append(uint64(i)))
		}
		require.NoError(t, b.Send(ctx))
	}
	rows, err := eng.Query(ctx, "SELECT count() FROM d", nil)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var n uint64
	require.NoError(t, rows.Scan(&n))
	require.Equal(t, uint64(3), n)
}

// Open fails fast, naming the address, when nothing listens there.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{DSN: "clickhouse://127.0.0.1:1/db", DialTimeout: time.Second})
	require.ErrorContains(t, err, "127.0.0.1:1")
	_, err = Open(ctx, Options{DSN: "http://127.0.0.1:1"})
	require.ErrorContains(t, err, "clickhouse options")
}
