package chdb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := chdbtest.RemoveDir(); err != nil {
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Engine { return chdbtest.Open(t) })
}

func TestOpenMissingLibrary(t *testing.T) {
	_, err := chdb.Open(t.Context(), chdb.Options{Path: t.TempDir(), LibPath: "/nonexistent/libchdb.so"})
	require.ErrorIs(t, err, chdb.ErrLibraryMissing)
	assert.Contains(t, err.Error(), "make libchdb")
	assert.Contains(t, err.Error(), "TAPLINE_LIBCHDB")
}

func TestOpenBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts chdb.Options
		want string
	}{
		{"no path", chdb.Options{}, "Options.Path"},
		{"bad database", chdb.Options{Path: t.TempDir(), Database: "a;b"}, "database name"},
		{"negative conns", chdb.Options{Path: t.TempDir(), Conns: -1}, "Conns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := chdb.Open(t.Context(), tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDefaultLibPath(t *testing.T) {
	t.Setenv(chdb.LibraryEnv, "/opt/lib/libchdb.so")
	assert.Equal(t, "/opt/lib/libchdb.so", chdb.DefaultLibPath())
	t.Setenv(chdb.LibraryEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	assert.Equal(t, "/cache/tapline/"+chdb.LibraryVersion+"/package/libchdb.so", chdb.DefaultLibPath())
}

func TestDatabasesIsolateEnginesOnOnePath(t *testing.T) {
	a, b := chdbtest.Open(t), chdbtest.Open(t)
	require.NotEqual(t, a.Database(), b.Database())
	require.Equal(t, a.Path(), b.Path())
	require.NoError(t, a.Exec(t.Context(), "CREATE TABLE only_in_a (x UInt8) ENGINE = Memory", nil))
	_, err := b.Query(t.Context(), "SELECT * FROM only_in_a", nil)
	assert.Equal(t, 60, store.ErrorCode(err), "b does not see a's table: %v", err)
	// Every connection of a runs in a's database.
	for range 10 {
		rows, err := a.Query(t.Context(), "SELECT count() FROM only_in_a", nil)
		require.NoError(t, err)
		require.NoError(t, rows.Close())
	}
}

// TestOpenOtherPathFails: chDB serves one data directory per process.
func TestOpenOtherPathFails(t *testing.T) {
	chdbtest.Open(t) // keeps the shared directory open
	_, err := chdb.Open(t.Context(), chdb.Options{Path: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "one data directory per process")
}

func TestInsertsDoNotWaitForQueries(t *testing.T) {
	e := chdbtest.Open(t, func(o *chdb.Options) { o.Conns = 2 })
	require.NoError(t, e.Exec(t.Context(), "CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x", nil))

	// A query holds the one reader connection of a 2-connection pool.
	rows, err := e.Query(t.Context(), "SELECT number FROM numbers(100000000)", nil)
	require.NoError(t, err)
	require.True(t, rows.Next())

	// Another query waits for it...
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = e.Query(ctx, "SELECT 1", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded, "queries may hold all connections but one")

	// ...but an insert goes through on the connection kept for writes.
	b, err := e.PrepareBatch(t.Context(), "t", nil)
	require.NoError(t, err)
	require.NoError(t, b.Append(uint64(1)))
	require.NoError(t, b.Send(t.Context()))
	require.NoError(t, e.Exec(t.Context(), "INSERT INTO t VALUES (2)", nil))
	require.NoError(t, rows.Close())

	var n uint64
	rows, err = e.Query(t.Context(), "SELECT count() FROM t", nil)
	require.NoError(t, err)
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&n))
	require.NoError(t, rows.Close())
	assert.Equal(t, uint64(2), n)
}

func TestScanTypes(t *testing.T) {
	e := chdbtest.Open(t)
	rows, err := e.Query(t.Context(), "SELECT toUInt64(7), 'abc', CAST(NULL AS Nullable(String)), toNullable('x')", nil)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())

	var (
		u       uint64
		s       string
		b       []byte
		null, x *string
		anyV    any
		i       int64
	)
	require.NoError(t, rows.Scan(&u, &s, &null, &x))
	assert.Equal(t, uint64(7), u)
	assert.Equal(t, "abc", s)
	assert.Nil(t, null)
	require.NotNil(t, x)
	assert.Equal(t, "x", *x)
	require.NoError(t, rows.Scan(&anyV, &b, &null, &x))
	assert.Equal(t, uint64(7), anyV)
	assert.Equal(t, []byte("abc"), b)

	err = rows.Scan(&i, &s, &null, &x)
	require.Error(t, err, "UInt64 does not scan into int64: the server engine would refuse it too")
	assert.Contains(t, err.Error(), "UInt64")
	require.Error(t, rows.Scan(&u, &s, &s, &x), "NULL does not scan into a string")
	require.Error(t, rows.Scan(&u, &s), "wrong number of destinations")
	require.Error(t, rows.Scan(u, &s, &null, &x), "not a pointer")
}

func TestStatementsThatDoNotStream(t *testing.T) {
	e := chdbtest.Open(t)
	require.NoError(t, e.Exec(t.Context(), "CREATE TABLE t (x UInt8, s String) ENGINE = Memory", nil))
	for _, q := range []string{"SHOW TABLES", "DESCRIBE TABLE t", "EXISTS TABLE t", "SHOW CREATE TABLE t"} {
		rows, err := e.Query(t.Context(), q, nil)
		require.NoError(t, err, q)
		n := 0
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Err(), q)
		require.NoError(t, rows.Close())
		assert.Positive(t, n, q)
	}
}

func TestBatch(t *testing.T) {
	e := chdbtest.Open(t)
	require.NoError(t, e.Exec(t.Context(), `CREATE TABLE t (
		x UInt64,
		d UInt64 DEFAULT 5,
		m UInt64 MATERIALIZED x * 2,
		a UInt64 ALIAS x + 1
	) ENGINE = MergeTree ORDER BY x`, nil))

	t.Run("all insertable columns by default", func(t *testing.T) {
		b, err := e.PrepareBatch(t.Context(), "t", nil)
		require.NoError(t, err)
		require.NoError(t, b.Append(uint64(1), uint64(2)), "x and d only")
		require.Error(t, b.Append(uint64(1), uint64(2), uint64(3)))
		require.NoError(t, b.Send(t.Context()))
		require.ErrorIs(t, b.Send(t.Context()), chdb.ErrBatchSent)
		require.ErrorIs(t, b.Append(uint64(1), uint64(2)), chdb.ErrBatchSent)
	})
	t.Run("computed columns take no values", func(t *testing.T) {
		_, err := e.PrepareBatch(t.Context(), "t", []string{"x", "m"})
		require.ErrorContains(t, err, "MATERIALIZED")
		_, err = e.PrepareBatch(t.Context(), "t", []string{"nope"})
		assert.Equal(t, 16, store.ErrorCode(err))
	})
	t.Run("names are checked", func(t *testing.T) {
		_, err := e.PrepareBatch(t.Context(), "t; DROP TABLE t", nil)
		require.Error(t, err)
		_, err = e.PrepareBatch(t.Context(), "t", []string{"x`"})
		require.Error(t, err)
	})
	t.Run("abort", func(t *testing.T) {
		b, err := e.PrepareBatch(t.Context(), "t", []string{"x"})
		require.NoError(t, err)
		require.NoError(t, b.Append(100))
		b.Abort()
		require.ErrorIs(t, b.Send(t.Context()), chdb.ErrBatchSent)
	})
	t.Run("empty batch", func(t *testing.T) {
		b, err := e.PrepareBatch(t.Context(), "t", []string{"x"})
		require.NoError(t, err)
		require.NoError(t, b.Send(t.Context()))
	})
	t.Run("table changed after the first batch", func(t *testing.T) {
		require.NoError(t, e.Exec(t.Context(), "ALTER TABLE t ADD COLUMN extra String", nil))
		b, err := e.PrepareBatch(t.Context(), "t", []string{"x", "extra"})
		if err == nil {
			require.NoError(t, b.Append(uint64(3), "new"))
			err = b.Send(t.Context())
		}
		if err != nil {
			// A stale cache may fail once; the next batch reads the table again.
			b, err = e.PrepareBatch(t.Context(), "t", []string{"x", "extra"})
			require.NoError(t, err)
			require.NoError(t, b.Append(uint64(3), "new"))
			require.NoError(t, b.Send(t.Context()))
		}
	})

	rows, err := e.Query(t.Context(), "SELECT x, d, m, a FROM t ORDER BY x", nil)
	require.NoError(t, err)
	defer rows.Close()
	var got [][4]uint64
	for rows.Next() {
		var r [4]uint64
		require.NoError(t, rows.Scan(&r[0], &r[1], &r[2], &r[3]))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, [][4]uint64{{1, 2, 2, 2}, {3, 5, 6, 4}}, got)

	files, err := os.ReadDir(filepath.Join(e.Path(), "tapline_insert"))
	require.NoError(t, err)
	assert.Empty(t, files, "insert files are removed after each batch")
}

// TestInlineInsertStopsAtNewlinePair records why batches go through a file:
// chDB ends data inlined after "INSERT ... FORMAT RowBinary" at the first
// "\n\n", which binary data may contain anywhere. If this test fails, chDB
// has fixed that, and the direct path could replace the file.
func TestInlineInsertStopsAtNewlinePair(t *testing.T) {
	e := chdbtest.Open(t)
	require.NoError(t, e.Exec(t.Context(), "CREATE TABLE t (s String) ENGINE = Memory", nil))
	// One String value: length 5, then "a\n\nbc".
	data := "\x05a\n\nbc"
	err := e.Exec(t.Context(), "INSERT INTO t FORMAT RowBinary\n"+data, nil)
	require.Error(t, err)
	assert.Equal(t, 33, store.ErrorCode(err), "CANNOT_READ_ALL_DATA: %v", err)

	// The same value through a batch is stored intact.
	b, err := e.PrepareBatch(t.Context(), "t", nil)
	require.NoError(t, err)
	require.NoError(t, b.Append("a\n\nbc"))
	require.NoError(t, b.Send(t.Context()))
}

func TestRowsOutliveClose(t *testing.T) {
	e, err := chdb.Open(t.Context(), chdb.Options{Path: chdbtest.Dir(), Database: chdbtest.Database(t), Conns: 2})
	if errors.Is(err, chdb.ErrLibraryMissing) {
		chdbtest.RequireLibrary(t)
	}
	require.NoError(t, err)
	rows, err := e.Query(t.Context(), "SELECT number FROM numbers(3000000)", nil)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 3000000, n, "rows opened before Close read to the end")
	_, err = e.Query(t.Context(), "SELECT 1", nil)
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestCancelledContext(t *testing.T) {
	e := chdbtest.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	rows, err := e.Query(ctx, "SELECT number FROM numbers(5000000)", nil)
	require.NoError(t, err)
	require.True(t, rows.Next())
	cancel()
	for rows.Next() {
	}
	require.ErrorIs(t, rows.Err(), context.Canceled)
	_, err = e.Query(ctx, "SELECT 1", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, e.Exec(ctx, "SELECT 1", nil), context.Canceled)
	require.NoError(t, e.Ping(t.Context()), "the connection of the cancelled query is usable again")
}
