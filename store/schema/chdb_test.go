package schema_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/schema"
	"github.com/tapline/tapline/store/schema/schematest"
)

// dataDir is the one chDB data directory of this test binary (chDB serves
// one per process); tests isolate themselves in their own databases.
var dataDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tapline-schema-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dataDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// openChDB opens the embedded engine on database db, or skips when the
// library is missing (fails instead under CI=true).
func openChDB(t testing.TB, db string) *chdb.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := chdb.Open(ctx, chdb.Options{Path: dataDir, Database: db})
	if errors.Is(err, chdb.ErrLibraryMissing) && os.Getenv("CI") == "" {
		t.Skipf("chDB library missing (run make libchdb): %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	return eng
}

// openMigrated is openChDB on database db with Tapline's default schema
// migrated into it.
func openMigrated(t testing.TB, db string) *chdb.Engine {
	t.Helper()
	eng := openChDB(t, db)
	opts := schema.DefaultOptions()
	opts.Database = ""
	_, err := schema.Migrate(context.Background(), eng, opts)
	require.NoError(t, err)
	return eng
}

// The migrations run on chDB (ClickHouse 26.5, text-index layout), twice
// without change; every table's columns match the golden list.
func TestMigrateChDB(t *testing.T) {
	eng := openChDB(t, "schema_migrate")
	opts := schema.DefaultOptions()
	opts.Database = "" // the engine's
	got := schematest.Run(t, eng, opts)
	checkGoldenFile(t, "columns.golden", got)
}

// The bloom-filter layout for older servers is valid DDL too and has the
// same columns.
func TestMigrateChDBBloom(t *testing.T) {
	eng := openChDB(t, "schema_bloom")
	opts := schema.DefaultOptions()
	opts.Database = eng.Database()
	opts.Indexes = schema.IndexesBloom
	applied, err := schema.Migrate(context.Background(), eng, opts)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	rows, err := eng.Query(context.Background(),
		"SELECT count() FROM system.data_skipping_indices WHERE database = currentDatabase() AND type = 'text'", nil)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var n uint64
	require.NoError(t, rows.Scan(&n))
	require.Zero(t, n, "no text index in the bloom layout")
}

func TestMigrateWrongDatabase(t *testing.T) {
	eng := openChDB(t, "schema_wrongdb")
	opts := schema.DefaultOptions()
	opts.Database = "elsewhere"
	_, err := schema.Migrate(context.Background(), eng, opts)
	require.ErrorContains(t, err, `schema database "elsewhere" is not the engine's database "schema_wrongdb"`)
}

// Cluster-mode DDL cannot run here (it needs a cluster and Keeper), but
// ClickHouse itself can parse it: every statement of both cluster layouts
// goes through formatQuery.
func TestClusterDDLParses(t *testing.T) {
	eng := openChDB(t, "schema_cluster_parse")
	for _, indexes := range []string{schema.IndexesText, schema.IndexesBloom} {
		opts := schema.DefaultOptions()
		opts.Cluster = "{cluster}"
		opts.Indexes = indexes
		stmts, err := schema.Render(opts)
		require.NoError(t, err)
		for _, s := range stmts {
			rows, err := eng.Query(context.Background(), "SELECT formatQuery({q:String})", store.Params{"q": s.SQL})
			require.NoError(t, err, "%s: %s", s.Migration, s.Name)
			require.True(t, rows.Next(), "%s: %s: %v", s.Migration, s.Name, rows.Err())
			var formatted string
			require.NoError(t, rows.Scan(&formatted))
			require.NoError(t, rows.Close())
			require.Contains(t, formatted, "ON CLUSTER", "%s: %s", s.Migration, s.Name)
		}
	}
}
