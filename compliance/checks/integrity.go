package checks

import (
	"context"
	"fmt"

	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/store"
)

// runIntegrity is check 17: the ingest ledger's hash chains over the
// period, verified by ingest.VerifyLedger. It fills res (population,
// exceptions, queries) and returns the integrity facts for the manifest.
func runIntegrity(ctx context.Context, eng store.Engine, env Env, res *report.CheckResult) *report.Integrity {
	in := &report.Integrity{LedgerHeads: []report.LedgerHead{}}
	days := env.days(false)
	for _, q := range []string{QueryPopulation, "verification"} {
		if text, err := SQL(res.ID, q); err == nil {
			res.Queries = append(res.Queries, report.Query{Name: q, SQL: text})
		}
	}
	p := store.Params{"from": env.From.UTC(), "to": env.To.UTC()}
	*res = withParams(*res, p)
	fail := func(msg string) *report.Integrity {
		*res = errorResult(*res, days, msg)
		in.LedgerError = msg
		return in
	}
	pop, err := population(ctx, eng, res.Queries[0].SQL, p)
	if err != nil {
		return fail(fmt.Sprintf("population query: %v", err))
	}
	for _, n := range pop {
		res.Population += n
	}
	rep, err := ingest.VerifyLedger(ctx, eng, env.From, env.To)
	if err != nil {
		return fail(err.Error())
	}
	day := days[0]
	for _, s := range rep.Streams {
		for _, c := range s.Chains {
			in.LedgerHeads = append(in.LedgerHeads, report.LedgerHead{
				Stream: s.Stream, Chain: c.Chain, FirstBatch: c.FirstBatch, LastBatch: c.LastBatch,
				Batches: c.Batches, HeadHash: c.HeadHash,
			})
			for _, b := range c.Breaks {
				res.Exceptions = append(res.Exceptions, report.Exception{
					Day: day, Subject: fmt.Sprintf("stream %s chain %s", s.Stream, c.Chain), Severity: report.SeverityFail,
					Items: 1, Detail: fmt.Sprintf("batch %d: %s", b.BatchSeq, b.Reason),
				})
			}
		}
		if s.DuplicateCount > 0 {
			res.Exceptions = append(res.Exceptions, report.Exception{
				Day: day, Subject: fmt.Sprintf("stream %s duplicate sequences", s.Stream), Severity: report.SeverityFail,
				Items: s.DuplicateCount, Detail: fmt.Sprintf("%d stream sequences are held by more than one ledger row, first %v", s.DuplicateCount, s.Duplicates[:min(5, len(s.Duplicates))]),
			})
		}
	}
	in.LedgerOK = len(res.Exceptions) == 0 && res.Population > 0
	if res.Population == 0 {
		in.LedgerError = "no ingest ledger rows in the period"
	}
	res.Days = []report.DayResult{{Day: day, Population: res.Population}}
	applyWaivers(res, env.Waivers)
	return in
}
