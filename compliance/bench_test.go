package compliance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/store"
)

// benchRows is the number of access events (and of spans) the report
// benchmark stores: TAPLINE_TEST_COMPLIANCE_BENCH_ROWS, default 10M (the
// target's scale).
func benchRows(b *testing.B) int {
	if s := os.Getenv("TAPLINE_TEST_COMPLIANCE_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("TAPLINE_TEST_COMPLIANCE_BENCH_ROWS=%q: want a positive number", s)
		}
		return n
	}
	return 10_000_000
}

// BenchmarkReport30Days runs a 30-day SOC 2 report (its controls use all 17
// checks) over N access events and N spans in chDB, rendering, signing and
// recording included, with the checks reading the daily rollups for whole
// days (what Tapline does).
// Baselines, measured in the same run: the same report reading the source
// tables only (x-raw-report), and one scan of the period's access events
// and spans, count per day, the least any report must read
// (x-baseline-scan).
func BenchmarkReport30Days(b *testing.B) {
	n := benchRows(b)
	ctx := context.Background()
	eng := compliancetest.Engine(b)
	days := 30
	from := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days)
	to := from.AddDate(0, 0, days)
	start := time.Now()
	if err := compliancetest.InsertVolume(ctx, eng, from, days, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d access events and %d spans in %s", n, n, time.Since(start).Round(time.Second))
	cfg := compliance.Default()
	cfg.Checks = compliancetest.CheckConfig()
	cfg = cfg.WithDataDir(b.TempDir())

	scan := func() time.Duration {
		t0 := time.Now()
		for _, q := range []string{
			"SELECT toDate(Timestamp, 'UTC') AS d, count() FROM access_events WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} GROUP BY d",
			"SELECT toDate(Timestamp, 'UTC') AS d, count() FROM otel_traces WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} GROUP BY d",
		} {
			rows, err := eng.Query(ctx, q, store.Params{"from": from, "to": to})
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			if err := rows.Close(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	report := func(i int, raw bool) (time.Duration, *compliance.Result) {
		out := filepath.Join(b.TempDir(), fmt.Sprintf("r%d-%t", i, raw))
		t0 := time.Now()
		res, err := compliance.Run(ctx, eng, compliance.RunRequest{Framework: "soc2", From: from, To: to, OutDir: out, Config: cfg, RawOnly: raw})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(t0), res
	}
	settled := waitForMerges(ctx, b, eng, 10*time.Minute)
	b.Logf("background merges settled in %s", settled.Round(time.Second))

	// Rounds of both reports in ABBA order (raw, rollups, rollups, raw,
	// ...), so that a change of machine load during the run weighs on both
	// alike; the figures are the medians.
	var reports, raws []time.Duration
	var scanTime time.Duration
	rounds := benchRounds(b)
	var last *compliance.Result
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		scanTime += scan()
		for r := range rounds {
			var d time.Duration
			var res, rawRes *compliance.Result
			if r%2 == 0 {
				d, rawRes = report(i*rounds+r, true)
				raws = append(raws, d)
				d, res = report(i*rounds+r, false)
				reports = append(reports, d)
			} else {
				d, res = report(i*rounds+r, false)
				reports = append(reports, d)
				d, rawRes = report(i*rounds+r, true)
				raws = append(raws, d)
			}
			if res.Report.Result != rawRes.Report.Result {
				b.Fatalf("rollups give %s, the source tables %s", res.Report.Result, rawRes.Report.Result)
			}
			b.Logf("round %d: report %s, raw report %s, load average %s", r, reports[len(reports)-1].Round(time.Millisecond),
				raws[len(raws)-1].Round(time.Millisecond), loadAverage())
			last = res
		}
		if i == 0 {
			// Each check alone, both ways, to show where the time goes.
			cat, _ := catalog.Load()
			fw, _ := cat.Framework("soc2")
			for _, c := range last.Report.Checks {
				alone := func(raw bool) time.Duration {
					t0 := time.Now()
					env := checks.Env{From: from, To: to, Seed: last.Report.Seed, Samples: cfg.Samples, Parallel: 1, RawOnly: raw}
					if _, err := checks.Run(ctx, eng, cat, fw, cfg.Checks, env, []string{c.ID}); err != nil {
						b.Fatal(err)
					}
					return time.Since(t0).Round(time.Millisecond)
				}
				fmt.Fprintf(os.Stderr, "check %-20s %-6s population %9d  alone: rollups %8s, source tables %8s\n",
					c.ID, c.Result, c.Population, alone(false), alone(true))
			}
		}
		b.StartTimer()
	}
	reportTime, rawTime := median(reports), median(raws)
	b.ReportMetric(reportTime.Seconds(), "s/report")
	b.ReportMetric(rawTime.Seconds(), "s/raw-report")
	b.ReportMetric(float64(reportTime)/float64(rawTime), "x-raw-report")
	b.ReportMetric(float64(reportTime)/float64(scanTime/time.Duration(b.N)), "x-baseline-scan")
	b.ReportMetric(float64(n), "events")
}

// benchRounds is how many times each report runs per iteration:
// TAPLINE_TEST_COMPLIANCE_BENCH_ROUNDS, default 3.
func benchRounds(b *testing.B) int {
	if s := os.Getenv("TAPLINE_TEST_COMPLIANCE_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("TAPLINE_TEST_COMPLIANCE_BENCH_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	return 3
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// waitForMerges waits until the engine runs no background merge (the
// rollups' rows of one key merge in the background after a bulk insert),
// at most limit, and returns how long it waited: reports read data at
// rest.
func waitForMerges(ctx context.Context, b *testing.B, eng store.Engine, limit time.Duration) time.Duration {
	t0 := time.Now()
	quiet := 0
	for time.Since(t0) < limit && quiet < 3 {
		rows, err := eng.Query(ctx, "SELECT count() FROM system.merges", nil)
		if err != nil {
			b.Fatal(err)
		}
		var n uint64
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(2 * time.Second)
	}
	return time.Since(t0)
}

// loadAverage is the machine's 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// BenchmarkRollupIngestCost measures what the materialized views of the
// per-request and per-trace rollups (migration 0012) add to inserting
// access events and spans: the same batches of 10,000 rows go into two
// databases of one chDB, one with every view and one without the two of
// 0012, alternating which goes first, in the same run. x-access-insert and
// x-span-insert are the time with the views over the time without them;
// the rows are the report benchmark's (spans without attributes, so the
// views weigh more than beside realistic spans).
func BenchmarkRollupIngestCost(b *testing.B) {
	ctx := context.Background()
	with := compliancetest.Engine(b)
	without := compliancetest.Engine(b)
	for _, q := range []string{"DROP VIEW compliance_requests_daily_mv", "DROP VIEW compliance_traces_daily_mv"} {
		if err := without.Exec(ctx, q, nil); err != nil {
			b.Fatal(err)
		}
	}
	const batch, batches = 10_000, 20
	start := time.Now().UTC().Add(-48 * time.Hour)
	var took [2][2]time.Duration // [with, without][access, spans]
	insert := func(eng store.Engine, d compliancetest.Dataset) time.Duration {
		t0 := time.Now()
		if err := compliancetest.Insert(ctx, eng, d); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	for i := range b.N {
		for k := range batches {
			first := (i*batches + k) * batch
			d := compliancetest.VolumeRows(start, 1, b.N*batches*batch, first, first+batch)
			access, spans := compliancetest.Dataset{Access: d.Access}, compliancetest.Dataset{Spans: d.Spans}
			engines := []store.Engine{with, without}
			for n := range 2 {
				e := (n + k) % 2 // alternate which database goes first
				took[e][0] += insert(engines[e], access)
				took[e][1] += insert(engines[e], spans)
			}
		}
	}
	rows := float64(b.N * batches * batch)
	b.ReportMetric(float64(took[0][0])/float64(took[1][0]), "x-access-insert")
	b.ReportMetric(float64(took[0][1])/float64(took[1][1]), "x-span-insert")
	b.ReportMetric(rows/took[0][0].Seconds(), "access-rows/s")
	b.ReportMetric(rows/took[1][0].Seconds(), "access-rows/s-without")
	b.ReportMetric(rows/took[0][1].Seconds(), "span-rows/s")
	b.ReportMetric(rows/took[1][1].Seconds(), "span-rows/s-without")
}
