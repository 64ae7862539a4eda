package checks

import (
	"context"
	"io/fs"
	"time"

	"github.com/tapline/tapline/store"
)

// QueryCoverage names the query that decides which days a check may read
// from the rollups; it is listed with the queries of every check that did.
const QueryCoverage = "rollup coverage"

// coverageSQLFile is the coverage query, beside the checks' queries.
const coverageSQLFile = "sql/rollups.coverage.sql"

// rollupPair is a rollup table and one source table it counts.
type rollupPair struct{ rollup, source string }

// rollupPairs are every rollup table of migrations 0011 and 0012 with each
// source table its views read. A day may be read from the rollups only when, for
// every pair, the rollup counts exactly the source table's rows of that day.
var rollupPairs = []rollupPair{
	{"compliance_access_daily", "access_events"},
	{"compliance_tls_daily", "tls_connections"},
	{"compliance_certs_daily", "access_events"},
	{"compliance_certs_daily", "tls_connections"},
	{"compliance_skew_daily", "access_events"},
	{"compliance_skew_daily", "tls_connections"},
	{"compliance_minutes", "access_events"},
	{"compliance_minutes", "tls_connections"},
	{"compliance_minutes", "otel_traces"},
	{"compliance_minutes", "otel_logs"},
	{"compliance_requests_daily", "access_events"},
	{"compliance_traces_daily", "otel_traces"},
}

// coverage is the outcome of the coverage query: the whole UTC days
// (midnights) on which every rollup agrees with its source tables.
type coverage struct {
	sql  string
	days map[time.Time]bool
	err  error
}

// maxWindowDays is how far before the period a check may read (the
// handshake-failure baseline): coverage is decided for that much more.
func maxWindowDays(cfg Config) int { return max(cfg.HandshakeFailures.BaselineDays, 0) }

// ceilDay is the first UTC midnight at or after t; floorDay the last at or
// before t.
func ceilDay(t time.Time) time.Time {
	d := floorDay(t)
	if d.Before(t) {
		d = d.Add(24 * time.Hour)
	}
	return d
}

func floorDay(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// rollupCoverage runs the coverage query over the whole days of [from, to).
func rollupCoverage(ctx context.Context, eng store.Engine, from, to time.Time) coverage {
	b, err := fs.ReadFile(sqlFiles, coverageSQLFile)
	if err != nil {
		return coverage{err: err}
	}
	cov := coverage{sql: string(b), days: map[time.Time]bool{}}
	from, to = ceilDay(from), floorDay(to)
	if !from.Before(to) {
		return cov
	}
	rows, err := eng.Query(ctx, cov.sql, store.Params{"from": from, "to": to})
	if err != nil {
		cov.err = err
		return cov
	}
	defer rows.Close()
	type key struct {
		rollup, source string
		day            time.Time
	}
	counts := map[key]uint64{}
	for rows.Next() {
		var (
			k key
			n uint64
		)
		if err := rows.Scan(&k.rollup, &k.source, &k.day, &n); err != nil {
			cov.err = err
			return cov
		}
		k.day = floorDay(k.day)
		counts[k] += n
	}
	if err := rows.Err(); err != nil {
		cov.err = err
		return cov
	}
	for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
		ok := true
		for _, p := range rollupPairs {
			if counts[key{p.rollup, p.source, d}] != counts[key{"", p.source, d}] {
				ok = false
				break
			}
		}
		cov.days[d] = ok
	}
	return cov
}

// span returns the longest run of covered whole days inside [from, to)
// (the latest of equally long runs), or ok false when there is none.
func (c coverage) span(from, to time.Time) (start, end time.Time, ok bool) {
	if c.err != nil || c.days == nil {
		return time.Time{}, time.Time{}, false
	}
	var runStart time.Time
	inRun := false
	last := floorDay(to)
	for d := ceilDay(from); ; d = d.Add(24 * time.Hour) {
		covered := d.Before(last) && c.days[d]
		switch {
		case covered && !inRun:
			runStart, inRun = d, true
		case !covered && inRun:
			if !ok || d.Sub(runStart) >= end.Sub(start) {
				start, end, ok = runStart, d, true
			}
			inRun = false
		}
		if !d.Before(last) {
			return start, end, ok
		}
	}
}

// rollupSQL returns the rollup variant of a check's query, if it has one.
func rollupSQL(check, query string) (string, bool) {
	b, err := sqlFiles.ReadFile(sqlFile(check, query) + ".rollup.sql")
	if err != nil {
		return "", false
	}
	return string(b), true
}
