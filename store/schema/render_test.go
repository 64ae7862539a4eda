package schema

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./store/schema -update")
	require.Equal(t, string(want), got, "rendered DDL differs from %s (go test ./store/schema -update to accept)", path)
}

func TestRenderGolden(t *testing.T) {
	cluster := DefaultOptions()
	cluster.Cluster = "tapline_cluster"
	cluster.Indexes = IndexesText
	clusterBloom := cluster
	clusterBloom.Indexes = IndexesBloom
	single := DefaultOptions()
	single.Indexes = IndexesText
	singleBloom := single
	singleBloom.Indexes = IndexesBloom
	for _, tc := range []struct {
		golden string
		opts   Options
	}{
		{"cluster_text.golden", cluster},
		{"cluster_bloom.golden", clusterBloom},
		{"single_text.golden", single},
		{"single_bloom.golden", singleBloom},
		{"single_bloom.golden", DefaultOptions()}, // auto is the bloom layout
	} {
		t.Run(tc.golden, func(t *testing.T) {
			stmts, err := Render(tc.opts)
			require.NoError(t, err)
			checkGolden(t, tc.golden, Script(stmts))
		})
	}
}

func TestRenderClusterShape(t *testing.T) {
	opts := DefaultOptions()
	opts.Cluster = "c1"
	stmts, err := Render(opts)
	require.NoError(t, err)
	require.NotEmpty(t, stmts)
	for _, s := range stmts {
		if strings.HasPrefix(s.SQL, "CREATE") {
			require.Contains(t, s.SQL, " ON CLUSTER 'c1'", "%s: %s", s.Migration, s.Name)
		}
		require.NotContains(t, s.SQL, "non_replicated_deduplication_window", "%s: %s", s.Migration, s.Name)
		if strings.Contains(s.SQL, "MergeTree") {
			require.Contains(t, s.SQL, "ENGINE = Replicated", "%s: %s", s.Migration, s.Name)
		}
	}
	// Every table that stores rows has a Distributed table under the plain name.
	for _, table := range []string{"otel_traces", "otel_traces_trace_id_ts", "otel_logs", "access_events",
		"access_events_id_ts", "tls_connections", "ingest_ledger", "compliance_runs", "compliance_findings",
		"compliance_access_daily", "compliance_tls_daily", "compliance_certs_daily", "compliance_skew_daily", "compliance_minutes"} {
		found := false
		for _, s := range stmts {
			if strings.HasPrefix(s.SQL, "CREATE TABLE IF NOT EXISTS `tapline`.`"+table+"` ON CLUSTER") &&
				strings.Contains(s.SQL, "Distributed('c1', 'tapline', '"+table+"_local'") {
				found = true
			}
		}
		require.True(t, found, "no Distributed table for %s", table)
	}
}

func TestRenderSingleNode(t *testing.T) {
	stmts, err := Render(DefaultOptions())
	require.NoError(t, err)
	for _, s := range stmts {
		require.NotContains(t, s.SQL, "ON CLUSTER", "%s: %s", s.Migration, s.Name)
		require.NotContains(t, s.SQL, "_local", "%s: %s", s.Migration, s.Name)
		require.NotContains(t, s.SQL, "Distributed", "%s: %s", s.Migration, s.Name)
		require.NotContains(t, s.SQL, "{{", "%s: %s", s.Migration, s.Name)
		require.False(t, strings.HasSuffix(s.SQL, ";"), "%s: %s", s.Migration, s.Name)
	}
}

func TestRenderTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want string // in the otel_traces statement; "" means no TTL clause
	}{
		{"days", 7 * 24 * time.Hour, "TTL toDateTime(Timestamp) + toIntervalDay(7)"},
		{"hours", 36 * time.Hour, "TTL toDateTime(Timestamp) + toIntervalHour(36)"},
		{"minutes", 90 * time.Minute, "TTL toDateTime(Timestamp) + toIntervalMinute(90)"},
		{"seconds", 61 * time.Second, "TTL toDateTime(Timestamp) + toIntervalSecond(61)"},
		{"none", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Retention.Traces = tc.ttl
			stmts, err := Render(opts)
			require.NoError(t, err)
			s := find(t, stmts, "create otel_traces")
			if tc.want == "" {
				require.NotContains(t, s.SQL, "TTL ")
			} else {
				require.Contains(t, s.SQL, tc.want)
			}
			// The ledger keeps its rows by default.
			require.NotContains(t, find(t, stmts, "create ingest_ledger").SQL, "TTL ")
		})
	}
}

func find(t *testing.T, stmts []Statement, name string) Statement {
	t.Helper()
	for _, s := range stmts {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no statement %q", name)
	return Statement{}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"empty database", func(o *Options) { o.Database = "" }, ""},
		{"cluster macro", func(o *Options) { o.Cluster = "{cluster}" }, ""},
		{"bad database", func(o *Options) { o.Database = "tap-line" }, "database"},
		{"injected database", func(o *Options) { o.Database = "x`; DROP TABLE y" }, "database"},
		{"bad cluster", func(o *Options) { o.Cluster = "c' OR 1" }, "cluster"},
		{"bad indexes", func(o *Options) { o.Indexes = "fast" }, "indexes"},
		{"negative traces", func(o *Options) { o.Retention.Traces = -time.Hour }, "retention.traces: must be >= 0"},
		{"fraction logs", func(o *Options) { o.Retention.Logs = 1500 * time.Millisecond }, "retention.logs: must be a whole number of seconds"},
		{"negative access", func(o *Options) { o.Retention.AccessEvents = -1 * time.Second }, "retention.access_events"},
		{"negative tls", func(o *Options) { o.Retention.TLSConnections = -1 * time.Second }, "retention.tls_connections"},
		{"negative ledger", func(o *Options) { o.Retention.Ledger = -1 * time.Second }, "retention.ledger"},
		{"negative compliance", func(o *Options) { o.Retention.Compliance = -1 * time.Second }, "retention.compliance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.mutate(&o)
			err := o.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			_, rerr := Render(o)
			require.ErrorContains(t, rerr, tc.wantErr)
		})
	}
}

func TestParseMigrations(t *testing.T) {
	good := "-- header\n\n-- name: one\nCREATE TABLE a (x UInt8);\n\n-- a comment\n-- name: two\nSELECT\n  1;\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"good", map[string]string{"0001_a.sql": good, "0002_b.sql": good}, ""},
		{"bad file name", map[string]string{"1_a.sql": good}, "1_a.sql: file name must be"},
		{"duplicate version", map[string]string{"0001_a.sql": good, "0001_b.sql": good}, "version 1 already used by 0001_a.sql"},
		{"no statements", map[string]string{"0001_a.sql": "-- only a comment\n"}, "0001_a.sql: no statements"},
		{"two statements in one", map[string]string{"0001_a.sql": "-- name: x\nSELECT 1;\nSELECT 2;\n"}, `statement "x": more than one statement`},
		{"duplicate name", map[string]string{"0001_a.sql": "-- name: x\nSELECT 1;\n-- name: x\nSELECT 2;\n"}, `statement name "x" used twice`},
		{"empty name", map[string]string{"0001_a.sql": "-- name:\nSELECT 1;\n"}, "empty statement name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, text := range tc.files {
				fsys["m/"+name] = &fstest.MapFile{Data: []byte(text)}
			}
			migs, err := parseMigrations(fsys, "m")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, migs, 2)
			require.Equal(t, uint32(1), migs[0].version)
			require.Equal(t, []namedTemplate{{"one", "CREATE TABLE a (x UInt8)"}, {"two", "SELECT\n  1"}}, migs[0].statements)
			require.Len(t, migs[0].checksum, 64)
		})
	}
}

func TestRenderTemplateErrorNamesStatement(t *testing.T) {
	r, err := newRenderer(DefaultOptions())
	require.NoError(t, err)
	_, err = r.render("0099_x.sql", "create x", "CREATE TABLE {{table \"x\"}} () {{ttl \"x\"}}")
	require.ErrorContains(t, err, `migration 0099_x.sql, statement "create x"`)
	require.ErrorContains(t, err, `no retention is defined for table "x"`)
}

// The embedded migrations parse, are numbered 1..n without gaps, and every
// table with a {{ttl}} has a retention entry (checked by rendering).
func TestEmbeddedMigrations(t *testing.T) {
	migs, err := loadMigrations()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(migs), 7)
	for i, m := range migs {
		require.Equal(t, uint32(i+1), m.version, m.file)
	}
}
