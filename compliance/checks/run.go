package checks

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/store"
)

// Env is what every check of one report shares.
type Env struct {
	// From and To bound the period [From, To).
	From, To time.Time
	// Seed orders the samples; Samples is the most shown per exception.
	Seed    uint64
	Samples int
	// UIBaseURL prefixes the /trace/<id> and /request/<id> links.
	UIBaseURL string
	Waivers   []Waiver
	// Scope limits every check to some services and tap listeners (bound
	// as scope_services and scope_listeners); the ingest ledger has no
	// service and is always read whole.
	Scope report.Scope
	// Parallel is how many checks run at once (default 2).
	Parallel int
	Logger   *slog.Logger
	// RawOnly makes every check read the source tables for every day and
	// never the rollups (to compare the two, and as a benchmark baseline).
	RawOnly bool

	// cov is which whole days the rollups cover, decided once per Run.
	cov *coverage
}

// Outcome is what running a set of checks gives.
type Outcome struct {
	Checks    []report.CheckResult
	Integrity report.Integrity
	Waivers   []report.WaiverStatus
}

// Run runs the checks ids (catalogue order) over env's period and returns
// their results, the ledger integrity facts, and what each waiver did.
// Errors of single checks are in their results; Run itself fails only when
// ctx ends.
func Run(ctx context.Context, eng store.Engine, cat *catalog.Catalog, fw *catalog.Framework, cfg Config, env Env, ids []string) (Outcome, error) {
	if env.Parallel <= 0 {
		env.Parallel = 2
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	out := Outcome{Checks: make([]report.CheckResult, len(ids))}
	if !env.RawOnly {
		cov := rollupCoverage(ctx, eng, env.From.AddDate(0, 0, -maxWindowDays(cfg)), env.To)
		if cov.err != nil {
			env.Logger.Warn("compliance rollups not used: coverage query failed", "err", cov.err)
		}
		env.cov = &cov
	}
	var (
		wg   sync.WaitGroup
		next = make(chan int)
		mu   sync.Mutex
		intg *report.Integrity
	)
	for range min(env.Parallel, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id := ids[i]
				start := time.Now()
				res, in := runOne(ctx, eng, cat, fw, cfg, env, id)
				env.Logger.Debug("compliance check done", "check", id, "result", res.Result, "took", time.Since(start))
				mu.Lock()
				out.Checks[i] = res
				if in != nil {
					intg = in
				}
				mu.Unlock()
			}
		}()
	}
	// The longest checks start first, so that the short ones fill the
	// other worker's time instead of one long check running alone at the
	// end.
feed:
	for _, i := range longestFirst(ids) {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if intg == nil {
		// The framework does not use evidence_integrity: the manifest still
		// cites the ledger, so verify it anyway.
		_, in := runOne(ctx, eng, cat, fw, cfg, env, "evidence_integrity")
		intg = in
	}
	out.Integrity = *intg
	out.Waivers = waiverStatus(env.Waivers, out.Checks, env.From)
	return out, nil
}

// slowChecks are the checks that take longest at volume, longest first
// (they judge single requests and traces, or walk the period minute by
// minute; see the benchmark in docs/BENCHMARKS.md).
var slowChecks = []string{"clock_skew", "private_route_auth", "ingest_completeness", "revoked_identities", "retention"}

// longestFirst returns the indexes of ids in the order to start them: the
// slow checks first, then the others in catalogue order.
func longestFirst(ids []string) []int {
	rank := func(id string) int {
		if r := slices.Index(slowChecks, id); r >= 0 {
			return r
		}
		return len(slowChecks)
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return rank(ids[a]) - rank(ids[b]) })
	return order
}

// runOne runs one check; the integrity facts come back from
// evidence_integrity only.
func runOne(ctx context.Context, eng store.Engine, cat *catalog.Catalog, fw *catalog.Framework, cfg Config, env Env, id string) (report.CheckResult, *report.Integrity) {
	meta := cat.Check(id)
	sp := specFor(id)
	res := report.CheckResult{ID: id, Controls: fw.ControlsOf(id)}
	if meta != nil {
		res.Number, res.Title, res.PopulationLabel, res.Method = meta.Number, meta.Title, meta.Population, meta.Method
	}
	if sp == nil {
		res.Result, res.Message = report.Error, "no such check"
		return res, nil
	}
	res.PerDay = sp.perDay
	days := env.days(sp.perDay)
	if sp.custom {
		in := runIntegrity(ctx, eng, env, &res)
		finish(&res, days, env)
		return res, in
	}
	p, missing, err := sp.params(cfg)
	texts := map[string]string{}
	for _, q := range []string{QueryPopulation, QueryExceptions, QuerySamples} {
		if text, err := SQL(id, q); err == nil {
			texts[q] = text
		}
	}
	listQueries := func() {
		res.Queries = nil
		for _, q := range []string{QueryPopulation, QueryExceptions, QuerySamples, QueryCoverage} {
			if text, ok := texts[q]; ok {
				res.Queries = append(res.Queries, report.Query{Name: q, SQL: text})
			}
		}
	}
	listQueries()
	switch {
	case err != nil:
		return errorResult(res, days, fmt.Sprintf("parameters: %v", err)), nil
	case missing != "":
		return errorResult(res, days, "not configured: compliance.checks."+missing+" is empty"), nil
	}
	p["from"], p["to"] = env.From.UTC(), env.To.UTC()
	p["seed"] = env.Seed
	p["samples"] = uint32(env.Samples)
	p["scope_services"], p["scope_listeners"] = scopeRegexp(env.Scope.Services), scopeRegexp(env.Scope.Listeners)
	if env.cov != nil {
		from := env.From
		if sp.lookbackDays != nil {
			from = from.AddDate(0, 0, -sp.lookbackDays(cfg))
		}
		if rf, rt, ok := env.cov.span(from, env.To); ok {
			used := false
			for _, q := range []string{QueryPopulation, QueryExceptions, QuerySamples} {
				if text, ok := rollupSQL(id, q); ok {
					texts[q], used = text, true
				}
			}
			if used {
				// Whole days [rollup_from, rollup_to) come from the rollups,
				// the rest of the period from the source tables.
				p["rollup_from"], p["rollup_to"] = rf, rt
				texts[QueryCoverage] = env.cov.sql
				listQueries()
			}
		}
	}
	sqlOf := func(q string) string { return texts[q] }

	pop, err := population(ctx, eng, sqlOf(QueryPopulation), p)
	if err != nil {
		return errorResult(withParams(res, p), days, fmt.Sprintf("population query: %v", err)), nil
	}
	excs, err := exceptions(ctx, eng, sqlOf(QueryExceptions), p)
	if err != nil {
		return errorResult(withParams(res, p), days, fmt.Sprintf("exceptions query: %v", err)), nil
	}
	res.Exceptions = excs
	subjects := []string{}
	seen := map[string]bool{}
	for _, e := range excs {
		if !seen[e.Subject] {
			seen[e.Subject] = true
			subjects = append(subjects, e.Subject)
		}
	}
	p["subjects"] = subjects
	res = withParams(res, p)
	if sqlOf(QuerySamples) != "" && len(excs) > 0 && env.Samples > 0 {
		samples, err := samplesFor(ctx, eng, sqlOf(QuerySamples), p, excs, env.UIBaseURL)
		if err != nil {
			return errorResult(res, days, fmt.Sprintf("samples query: %v", err)), nil
		}
		res.Samples = samples
	}
	for _, n := range pop {
		res.Population += n
	}
	finishDays(&res, days, pop, env)
	return res, nil
}

func withParams(res report.CheckResult, p store.Params) report.CheckResult {
	res.Params = nil
	for _, pt := range formatParams(p) {
		res.Params = append(res.Params, report.Param{Name: pt.name, Value: pt.value})
	}
	return res
}

// days lists the period's days, or its first day only for period-level
// checks.
func (env Env) days(perDay bool) []string {
	d := report.Period{From: env.From, To: env.To}.Days()
	if !perDay && len(d) > 1 {
		return d[:1]
	}
	return d
}

func errorResult(res report.CheckResult, days []string, msg string) report.CheckResult {
	res.Result, res.Message = report.Error, msg
	res.Days = nil
	for _, d := range days {
		res.Days = append(res.Days, report.DayResult{Day: d, Result: report.Error, Message: msg})
	}
	return res
}

func population(ctx context.Context, eng store.Engine, q string, p store.Params) (map[string]uint64, error) {
	rows, err := eng.Query(ctx, q, p)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var (
			day time.Time
			n   uint64
		)
		if err := rows.Scan(&day, &n); err != nil {
			return nil, err
		}
		out[day.Format(time.DateOnly)] += n
	}
	return out, rows.Err()
}

func exceptions(ctx context.Context, eng store.Engine, q string, p store.Params) ([]report.Exception, error) {
	rows, err := eng.Query(ctx, q, p)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []report.Exception
	for rows.Next() {
		var (
			day      time.Time
			e        report.Exception
			severity string
		)
		if err := rows.Scan(&day, &e.Subject, &severity, &e.Items, &e.Detail); err != nil {
			return nil, err
		}
		e.Day = day.Format(time.DateOnly)
		switch report.Severity(severity) {
		case report.SeverityWarn:
			e.Severity = report.SeverityWarn
		default:
			e.Severity = report.SeverityFail
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	report.SortExceptions(out)
	return out, nil
}

func samplesFor(ctx context.Context, eng store.Engine, q string, p store.Params, excs []report.Exception, base string) ([]report.Sample, error) {
	want := map[[2]string]bool{}
	for _, e := range excs {
		want[[2]string{e.Day, e.Subject}] = true
	}
	rows, err := eng.Query(ctx, q, p)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []report.Sample
	for rows.Next() {
		var (
			day time.Time
			s   report.Sample
		)
		if err := rows.Scan(&day, &s.Subject, &s.Time, &s.TraceID, &s.RequestID, &s.Detail); err != nil {
			return nil, err
		}
		s.Day = day.Format(time.DateOnly)
		if !want[[2]string{s.Day, s.Subject}] {
			continue
		}
		s.TraceURL, s.RequestURL = Link(base, "trace", s.TraceID), Link(base, "request", s.RequestID)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Link is the UI address of a trace or request: base/kind/<id>, or "" for
// an empty id.
func Link(base, kind, id string) string {
	if id == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/" + kind + "/" + url.PathEscape(id)
}

// finishDays applies the waivers and decides each day's result and the
// check's.
func finishDays(res *report.CheckResult, days []string, pop map[string]uint64, env Env) {
	if !res.PerDay {
		var total uint64
		for _, n := range pop {
			total += n
		}
		pop = map[string]uint64{}
		if len(days) > 0 {
			pop[days[0]] = total
		}
	}
	applyWaivers(res, env.Waivers)
	res.Days = nil
	for _, d := range days {
		res.Days = append(res.Days, report.DayResult{Day: d, Population: pop[d]})
	}
	finish(res, days, env)
}

// finish decides each day's result from its population and exceptions, and
// the check's result as the worst day.
func finish(res *report.CheckResult, days []string, env Env) {
	byDay := map[string]*report.DayResult{}
	for i := range res.Days {
		byDay[res.Days[i].Day] = &res.Days[i]
	}
	for _, e := range res.Exceptions {
		d := byDay[e.Day]
		if d == nil {
			// Exceptions dated outside the listed days (a period-level check,
			// or an event stamped outside the period) count on the last day.
			d = &res.Days[len(res.Days)-1]
		}
		switch {
		case e.Waiver != nil:
			d.Waived++
			d.Result = report.Worse(d.Result, report.Waived)
		case e.Severity == report.SeverityWarn:
			d.Exceptions++
			d.Result = report.Worse(d.Result, report.Warn)
		default:
			d.Exceptions++
			d.Result = report.Worse(d.Result, report.Fail)
		}
	}
	res.Result = ""
	var errDays, excDays int
	for i := range res.Days {
		d := &res.Days[i]
		if d.Population == 0 {
			// Missing data is an error, whatever else was found.
			d.Result = report.Error
			if d.Message == "" {
				d.Message = "no data: nothing to assess on this day"
			}
		}
		if d.Result == "" {
			d.Result = report.Pass
		}
		if d.Result == report.Error {
			errDays++
		}
		if d.Exceptions > 0 {
			excDays++
		}
		res.Result = report.Worse(res.Result, d.Result)
	}
	if res.Result == "" {
		res.Result, res.Message = report.Error, "the period has no days"
		return
	}
	if res.Message != "" {
		return
	}
	var parts []string
	if n := countUnwaived(res.Exceptions); n > 0 {
		parts = append(parts, fmt.Sprintf("%d exceptions on %d of %d days", n, excDays, len(res.Days)))
	}
	if n := len(res.Exceptions) - countUnwaived(res.Exceptions); n > 0 {
		parts = append(parts, fmt.Sprintf("%d waived exceptions", n))
	}
	if errDays > 0 {
		parts = append(parts, fmt.Sprintf("no data on %d of %d days", errDays, len(res.Days)))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("no exceptions in a population of %d", res.Population))
	}
	res.Message = strings.Join(parts, "; ")
}

func countUnwaived(es []report.Exception) int {
	n := 0
	for _, e := range es {
		if e.Waiver == nil {
			n++
		}
	}
	return n
}

// waiverApplies reports whether w covers an exception of check on day.
func waiverApplies(w Waiver, check, subject, day string) bool {
	if w.Check != check || !globMatch(w.Subject, subject) {
		return false
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return false
	}
	return d.Before(w.Expires)
}

func applyWaivers(res *report.CheckResult, ws []Waiver) {
	for i := range res.Exceptions {
		e := &res.Exceptions[i]
		for _, w := range ws {
			if waiverApplies(w, res.ID, e.Subject, e.Day) {
				e.Waiver = &report.WaiverRef{ID: w.ID, Justification: w.Justification, Approver: w.Approver, Expires: w.Expires.UTC()}
				break
			}
		}
	}
}

// waiverStatus says what each configured waiver did in the report:
// applied (it covered exceptions), expired (it matched exceptions but was
// no longer in force on their day, or expired before the period), or
// unused.
func waiverStatus(ws []Waiver, checks []report.CheckResult, periodStart time.Time) []report.WaiverStatus {
	out := []report.WaiverStatus{}
	for _, w := range ws {
		st := report.WaiverStatus{ID: w.ID, Check: w.Check, Subject: w.Subject, Justification: w.Justification,
			Approver: w.Approver, Expires: w.Expires.UTC()}
		if !w.Approved.IsZero() {
			st.Approved = w.Approved.UTC()
		}
		matchedExpired := false
		for _, c := range checks {
			for _, e := range c.Exceptions {
				switch {
				case e.Waiver != nil && e.Waiver.ID == w.ID:
					st.Covered++
				case e.Waiver == nil && c.ID == w.Check && globMatch(w.Subject, e.Subject):
					matchedExpired = true
				}
			}
		}
		switch {
		case st.Covered > 0:
			st.Status = "applied"
		case matchedExpired || !w.Expires.After(periodStart):
			st.Status = "expired"
		default:
			st.Status = "unused"
		}
		out = append(out, st)
	}
	return out
}
