package schema

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed bootstrap.sql
var bootstrapSQL string

// Statement is one rendered SQL statement of the schema.
type Statement struct {
	// Migration is the file the statement comes from ("0001_otel_traces.sql"),
	// or "bootstrap" for the statements run before the migrations.
	Migration string
	// Name is the statement's name within its file ("create otel_traces").
	Name string
	// SQL is the statement text, without a trailing semicolon.
	SQL string
}

// migration is one parsed migration file.
type migration struct {
	version    uint32
	file       string
	checksum   string // hex SHA-256 of the file's bytes
	statements []namedTemplate
}

type namedTemplate struct {
	name string
	text string
}

// ttlColumn says which retention key and time expression each table's TTL
// uses. A table not listed here has no {{ttl}}.
var ttlColumn = map[string]struct{ key, expr string }{
	"otel_traces":             {"traces", "toDateTime(Timestamp)"},
	"otel_traces_trace_id_ts": {"traces", "toDateTime(Start)"},
	"otel_logs":               {"logs", "toDateTime(Timestamp)"},
	"access_events":           {"access_events", "toDateTime(Timestamp)"},
	"access_events_id_ts":     {"access_events", "toDateTime(Start)"},
	"tls_connections":         {"tls_connections", "toDateTime(Timestamp)"},
	"ingest_ledger":           {"ledger", "toDateTime(InsertedAt)"},
	"compliance_runs":         {"compliance", "toDateTime(StartedAt)"},
	"compliance_findings":     {"compliance", "toDateTime(Day)"},
	// The per-request and per-trace compliance rollups (0012) hold about
	// as many rows as their source tables and expire with them.
	"compliance_requests_daily": {"access_events", "toDateTime(Day)"},
	"compliance_traces_daily":   {"traces", "toDateTime(Day)"},
	// The copies sorted by id (0016) expire with their source tables.
	"otel_traces_by_id":     {"traces", "toDateTime(Timestamp)"},
	"access_events_by_id":   {"access_events", "toDateTime(Timestamp)"},
	"tls_connections_by_id": {"tls_connections", "toDateTime(Timestamp)"},
}

// dedupWindow is how many recent insert blocks a non-replicated table
// remembers so that a retried insert with the same
// insert_deduplication_token is not stored twice. Replicated tables keep
// their own window (replicated_deduplication_window).
const dedupWindow = 1000

var fileNameRE = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// loadMigrations parses the embedded migration files in version order.
func loadMigrations() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
}

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	seen := map[uint32]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileNameRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: file name must be NNNN_name.sql (lowercase)", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", e.Name(), v, prev)
		}
		seen[uint32(v)] = e.Name()
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		stmts, err := splitStatements(string(data))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		out = append(out, migration{
			version:    uint32(v),
			file:       e.Name(),
			checksum:   hex.EncodeToString(sum[:]),
			statements: stmts,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

const nameMarker = "-- name:"

// splitStatements cuts a file into its named statements. Text before the
// first marker is the file's header comment. Full-line comments are dropped
// and the trailing semicolon is removed; a statement may hold only one
// semicolon, at its end.
func splitStatements(text string) ([]namedTemplate, error) {
	var (
		out  []namedTemplate
		cur  *namedTemplate
		body strings.Builder
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		sql := strings.TrimSpace(body.String())
		sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
		if strings.Contains(sql, ";\n") {
			return fmt.Errorf("statement %q: more than one statement (a line ends with ';' before the end)", cur.name)
		}
		cur.text = sql
		out = append(out, *cur)
		body.Reset()
		return nil
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trimmed, nameMarker); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			name := strings.TrimSpace(rest)
			if name == "" {
				return nil, fmt.Errorf("empty statement name after %q", nameMarker)
			}
			if names[name] {
				return nil, fmt.Errorf("statement name %q used twice", name)
			}
			names[name] = true
			cur = &namedTemplate{name: name}
			continue
		}
		if cur == nil || strings.HasPrefix(trimmed, "--") {
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no statements (each starts with a %q line)", nameMarker+" <name>")
	}
	return out, nil
}

// renderer renders statement templates for one set of options.
type renderer struct {
	opts Options // validated, Database set
	// textIndexes: the otel_* tables get the text-index layout.
	textIndexes bool
}

// templateData is what {{.X}} sees in a statement.
type templateData struct {
	Database    string
	Cluster     bool
	TextIndexes bool
}

func (r renderer) funcs() template.FuncMap {
	cluster := r.opts.Cluster != ""
	db := r.opts.Database
	return template.FuncMap{
		"quote": quoteIdent,
		"name": func(table string) string {
			return quoteIdent(db) + "." + quoteIdent(table)
		},
		"table": func(table string) string {
			return quoteIdent(db) + "." + quoteIdent(r.storageTable(table))
		},
		"onCluster": func() string {
			if !cluster {
				return ""
			}
			return " ON CLUSTER " + quoteString(r.opts.Cluster)
		},
		"engine": func(engine, table string, args ...string) string {
			if !cluster {
				if len(args) == 0 {
					return engine
				}
				return engine + "(" + strings.Join(args, ", ") + ")"
			}
			zkPath := "/clickhouse/tables/{shard}/" + db + "/" + r.storageTable(table)
			all := append([]string{quoteString(zkPath), quoteString("{replica}")}, args...)
			return "Replicated" + engine + "(" + strings.Join(all, ", ") + ")"
		},
		"ttl": func(table string) (string, error) {
			expr, err := r.ttlExpr(table)
			if err != nil || expr == "" {
				return "", err
			}
			return "TTL " + expr, nil
		},
		"dedupWindow": func() string {
			if cluster {
				return ""
			}
			return fmt.Sprintf(", non_replicated_deduplication_window = %d", dedupWindow)
		},
		"distributed": func(table, shardingKey string) string {
			if !cluster {
				return ""
			}
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s\nAS %s.%s\nENGINE = Distributed(%s, %s, %s, %s)",
				quoteIdent(db), quoteIdent(table), " ON CLUSTER "+quoteString(r.opts.Cluster),
				quoteIdent(db), quoteIdent(r.storageTable(table)),
				quoteString(r.opts.Cluster), quoteString(db), quoteString(r.storageTable(table)), shardingKey)
		},
	}
}

// storageTable is the name of the table that holds a table's rows.
func (r renderer) storageTable(table string) string {
	if r.opts.Cluster == "" {
		return table
	}
	return table + "_local"
}

// ttlExpr is the TTL expression of table under the options ("" for none).
func (r renderer) ttlExpr(table string) (string, error) {
	c, ok := ttlColumn[table]
	if !ok {
		return "", fmt.Errorf("no retention is defined for table %q", table)
	}
	return ttlExpression(c.expr, r.opts.Retention.of(c.key)), nil
}

// ttlExpression writes "col + toIntervalDay(n)" in the largest whole unit,
// the way ClickHouse prints it back in system.tables.
func ttlExpression(column string, ttl time.Duration) string {
	if ttl <= 0 {
		return ""
	}
	const day = 24 * time.Hour
	switch {
	case ttl%day == 0:
		return fmt.Sprintf("%s + toIntervalDay(%d)", column, ttl/day)
	case ttl%time.Hour == 0:
		return fmt.Sprintf("%s + toIntervalHour(%d)", column, ttl/time.Hour)
	case ttl%time.Minute == 0:
		return fmt.Sprintf("%s + toIntervalMinute(%d)", column, ttl/time.Minute)
	default:
		return fmt.Sprintf("%s + toIntervalSecond(%d)", column, ttl/time.Second)
	}
}

func (r renderer) render(file, name, text string) (Statement, error) {
	tmpl, err := template.New(file + ": " + name).Funcs(r.funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return Statement{}, fmt.Errorf("migration %s, statement %q: %w", file, name, err)
	}
	var b strings.Builder
	data := templateData{
		Database:    r.opts.Database,
		Cluster:     r.opts.Cluster != "",
		TextIndexes: r.textIndexes,
	}
	if err := tmpl.Execute(&b, data); err != nil {
		return Statement{}, fmt.Errorf("migration %s, statement %q: %w", file, name, err)
	}
	return Statement{Migration: file, Name: name, SQL: tidy(b.String())}, nil
}

// tidy drops blank lines and trailing spaces left by template actions.
func tidy(sql string) string {
	lines := strings.Split(sql, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// bootstrap renders the statements run before the migrations.
func (r renderer) bootstrap() ([]Statement, error) {
	stmts, err := splitStatements(bootstrapSQL)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return r.renderAll("bootstrap", stmts)
}

func (r renderer) renderAll(file string, stmts []namedTemplate) ([]Statement, error) {
	var out []Statement
	for _, st := range stmts {
		s, err := r.render(file, st.name, st.text)
		if err != nil {
			return nil, err
		}
		if s.SQL == "" {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// Render returns every statement of the schema (bootstrap, then each
// migration in order) as Migrate would run them on an empty database, for
// `tapline migrate --print`.
func Render(opts Options) ([]Statement, error) {
	r, err := newRenderer(opts)
	if err != nil {
		return nil, err
	}
	out, err := r.bootstrap()
	if err != nil {
		return nil, err
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	for _, m := range migs {
		stmts, err := r.renderAll(m.file, m.statements)
		if err != nil {
			return nil, err
		}
		out = append(out, stmts...)
	}
	return out, nil
}

// Script writes statements as one SQL script, each preceded by a comment
// naming its file and statement, for `tapline migrate --print`.
func Script(stmts []Statement) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString("-- " + s.Migration + ": " + s.Name + "\n")
		b.WriteString(s.SQL + ";\n\n")
	}
	return b.String()
}

func newRenderer(opts Options) (renderer, error) {
	if err := opts.Validate(); err != nil {
		return renderer{}, err
	}
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	return renderer{opts: opts, textIndexes: opts.Indexes == IndexesText}, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}
