package schema

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tapline/tapline/store"
)

// ErrChecksum is returned when an applied migration file was changed.
var ErrChecksum = errors.New("migration changed after it was applied")

// Migrate brings the database up to date: it creates the database and the
// schema_migrations table if needed, checks the checksum of every migration
// already applied, applies the others in order (recording each one), and
// then brings each table's TTL in line with opts.Retention.
//
// It returns what it changed: the file names of the migrations applied and
// "ttl <table>" for each table whose TTL it altered. A second call with the
// same options changes nothing and returns nothing.
//
// opts.Database empty means the engine's database; any other value must be
// the engine's database, since the rest of Tapline uses unqualified names.
// Versions recorded by a newer Tapline that this binary does not know are
// left alone.
func Migrate(ctx context.Context, eng store.Engine, opts Options) (applied []string, err error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("schema options: %w", err)
	}
	if opts.Database == "" {
		opts.Database = eng.Database()
	}
	if opts.Database != eng.Database() {
		return nil, fmt.Errorf("schema database %q is not the engine's database %q", opts.Database, eng.Database())
	}
	r, err := newRenderer(opts)
	if err != nil {
		return nil, err
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	boot, err := r.bootstrap()
	if err != nil {
		return nil, err
	}
	for _, s := range boot {
		if err := eng.Exec(ctx, s.SQL, nil); err != nil {
			return nil, fmt.Errorf("schema bootstrap, statement %q: %w", s.Name, err)
		}
	}
	done, err := appliedMigrations(ctx, eng, r)
	if err != nil {
		return nil, err
	}
	for _, m := range migs {
		if rec, ok := done[m.version]; ok {
			if rec.checksum != m.checksum {
				return applied, fmt.Errorf("migration %s: %w (recorded as %s with checksum %s, file has %s): add a new migration instead of editing an applied one",
					m.file, ErrChecksum, rec.name, rec.checksum, m.checksum)
			}
			continue
		}
		if err := apply(ctx, eng, r, m); err != nil {
			return applied, err
		}
		applied = append(applied, m.file)
	}
	changed, err := syncTTL(ctx, eng, r)
	applied = append(applied, changed...)
	return applied, err
}

type appliedRecord struct {
	name     string
	checksum string
}

func appliedMigrations(ctx context.Context, eng store.Engine, r renderer) (map[uint32]appliedRecord, error) {
	q := "SELECT Version, argMin(Name, AppliedAt), argMin(Checksum, AppliedAt) FROM " +
		quoteIdent(r.opts.Database) + ".schema_migrations GROUP BY Version ORDER BY Version"
	rows, err := eng.Query(ctx, q, nil)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]appliedRecord{}
	for rows.Next() {
		var (
			v   uint32
			rec appliedRecord
		)
		if err := rows.Scan(&v, &rec.name, &rec.checksum); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out[v] = rec
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return out, nil
}

func apply(ctx context.Context, eng store.Engine, r renderer, m migration) error {
	stmts, err := r.renderAll(m.file, m.statements)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := eng.Exec(ctx, s.SQL, nil); err != nil {
			return fmt.Errorf("migration %s, statement %q: %w", m.file, s.Name, err)
		}
	}
	record := "INSERT INTO " + quoteIdent(r.opts.Database) + ".schema_migrations (Version, Name, Checksum, AppliedAt) " +
		"SELECT {version:UInt32}, {name:String}, {checksum:String}, now64(3)"
	err = eng.Exec(ctx, record, store.Params{"version": m.version, "name": m.file, "checksum": m.checksum})
	if err != nil {
		return fmt.Errorf("migration %s: record in schema_migrations: %w", m.file, err)
	}
	return nil
}

// syncTTL alters the TTL of every existing table whose TTL differs from
// opts.Retention. ClickHouse then drops expired parts in the background
// (materialize_ttl_after_modify, on by default, recomputes TTL info of old
// parts as a mutation).
func syncTTL(ctx context.Context, eng store.Engine, r renderer) ([]string, error) {
	current, err := currentTTLs(ctx, eng, r)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, table := range slices.Sorted(maps.Keys(ttlColumn)) {
		stored := r.storageTable(table)
		have, exists := current[stored]
		if !exists {
			continue // created by a later migration this binary does not have
		}
		want, err := r.ttlExpr(table)
		if err != nil {
			return changed, err
		}
		if normalizeSQL(have) == normalizeSQL(want) {
			continue
		}
		target := quoteIdent(r.opts.Database) + "." + quoteIdent(stored)
		if r.opts.Cluster != "" {
			target += " ON CLUSTER " + quoteString(r.opts.Cluster)
		}
		stmt := "ALTER TABLE " + target + " REMOVE TTL"
		if want != "" {
			stmt = "ALTER TABLE " + target + " MODIFY TTL " + want
		}
		if err := eng.Exec(ctx, stmt, nil); err != nil {
			return changed, fmt.Errorf("change TTL of %s: %w", table, err)
		}
		changed = append(changed, "ttl "+table)
	}
	return changed, nil
}

// currentTTLs reads the TTL expression of each table from system.tables.
func currentTTLs(ctx context.Context, eng store.Engine, r renderer) (map[string]string, error) {
	var names []string
	for _, table := range slices.Sorted(maps.Keys(ttlColumn)) {
		names = append(names, r.storageTable(table))
	}
	rows, err := eng.Query(ctx,
		"SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND has({names:Array(String)}, name)",
		store.Params{"db": r.opts.Database, "names": names})
	if err != nil {
		return nil, fmt.Errorf("read table TTLs: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, engineFull string
		if err := rows.Scan(&name, &engineFull); err != nil {
			return nil, fmt.Errorf("read table TTLs: %w", err)
		}
		out[name] = ttlOf(engineFull)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read table TTLs: %w", err)
	}
	return out, nil
}

// ttlOf extracts the TTL expression from system.tables.engine_full
// ("MergeTree ... TTL expr SETTINGS ..."), or "" when there is none.
func ttlOf(engineFull string) string {
	_, rest, ok := strings.Cut(engineFull, " TTL ")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, " SETTINGS "); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimSpace(rest)
}

func normalizeSQL(s string) string { return strings.Join(strings.Fields(s), " ") }
