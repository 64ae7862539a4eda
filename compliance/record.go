package compliance

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/store"
)

var (
	//go:embed sql/scheduled_runs.sql
	scheduledRunsSQL string
	//go:embed sql/runs.sql
	runsSQL string
)

// runRecord is one row of compliance_runs.
type runRecord struct {
	RunID                  string
	Framework              string
	PeriodStart, PeriodEnd time.Time
	Scope                  string
	StartedAt, FinishedAt  time.Time
	Status, Trigger        string
	Schedule               string
	ManifestSHA256         string
	Signature              string
	LedgerHead             string
	OutputDir              string
	Error                  string
}

var runColumns = []string{"RunId", "Framework", "PeriodStart", "PeriodEnd", "Scope", "StartedAt", "FinishedAt",
	"Status", "Trigger", "Schedule", "ManifestSha256", "Signature", "LedgerHead", "OutputDir", "Error"}

func recordRun(ctx context.Context, eng store.Engine, r runRecord) error {
	b, err := eng.PrepareBatch(ctx, "compliance_runs", runColumns)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	fin := r.FinishedAt
	if fin.IsZero() {
		fin = time.Unix(0, 0)
	}
	if err := b.Append(r.RunID, r.Framework, r.PeriodStart.UTC().Truncate(time.Second), r.PeriodEnd.UTC().Truncate(time.Second),
		r.Scope, r.StartedAt.UTC().Truncate(time.Millisecond), fin.UTC().Truncate(time.Millisecond), r.Status, r.Trigger,
		r.Schedule, r.ManifestSHA256, r.Signature, r.LedgerHead, r.OutputDir, r.Error); err != nil {
		b.Abort()
		return fmt.Errorf("record run: %w", err)
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

var findingColumns = []string{"RunId", "Framework", "ControlId", "CheckId", "Day", "Result", "Population",
	"Exceptions", "Waived", "Details", "Query", "Params"}

// maxDetailExceptions caps the exceptions kept in one finding's Details.
const maxDetailExceptions = 100

// recordFindings writes one compliance_findings row per control, check and
// day of the report.
func recordFindings(ctx context.Context, eng store.Engine, r *report.Report) error {
	b, err := eng.PrepareBatch(ctx, "compliance_findings", findingColumns)
	if err != nil {
		return fmt.Errorf("record findings: %w", err)
	}
	for _, ctl := range r.Controls {
		for _, id := range ctl.Checks {
			c := r.Check(id)
			if c == nil {
				continue
			}
			var q []string
			for _, x := range c.Queries {
				q = append(q, "-- "+x.Name+"\n"+x.SQL)
			}
			params := map[string]string{}
			for _, p := range c.Params {
				params[p.Name] = p.Value
			}
			for _, d := range c.Days {
				var excs []report.Exception
				for _, e := range c.Exceptions {
					if e.Day == d.Day && len(excs) < maxDetailExceptions {
						excs = append(excs, e)
					}
				}
				details, err := json.Marshal(struct {
					Message    string             `json:"message,omitempty"`
					Exceptions []report.Exception `json:"exceptions,omitempty"`
				}{d.Message, excs})
				if err != nil {
					b.Abort()
					return fmt.Errorf("record findings: %w", err)
				}
				day, err := time.Parse(time.DateOnly, d.Day)
				if err != nil {
					b.Abort()
					return fmt.Errorf("record findings: %w", err)
				}
				if err := b.Append(r.RunID, r.Framework.ID, ctl.ID, c.ID, day, string(d.Result), d.Population,
					uint64(d.Exceptions), uint64(d.Waived), string(details), strings.Join(q, "\n"), params); err != nil {
					b.Abort()
					return fmt.Errorf("record findings: %w", err)
				}
			}
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("record findings: %w", err)
	}
	return nil
}

// RunInfo is a run as compliance_runs records it (its latest state).
type RunInfo struct {
	RunID                  string
	Framework              string
	Schedule               string
	Trigger                string
	Status                 string
	PeriodStart, PeriodEnd time.Time
	StartedAt, FinishedAt  time.Time
	OutputDir              string
	ManifestSHA256         string
	Error                  string
}

// Runs lists the recorded runs, newest first, at most limit (for the UI).
func Runs(ctx context.Context, eng store.Engine, limit int) ([]RunInfo, error) {
	rows, err := eng.Query(ctx, runsSQL, store.Params{"limit": uint32(limit)})
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []RunInfo
	for rows.Next() {
		var r RunInfo
		if err := rows.Scan(&r.RunID, &r.Framework, &r.Schedule, &r.Trigger, &r.Status, &r.PeriodStart, &r.PeriodEnd,
			&r.StartedAt, &r.FinishedAt, &r.OutputDir, &r.ManifestSHA256, &r.Error); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type periodKey struct{ from, to int64 }

// donePeriods returns the periods of a schedule's runs that finished, and
// the latest period end among them.
func donePeriods(ctx context.Context, eng store.Engine, framework, schedule string) (map[periodKey]bool, time.Time, error) {
	rows, err := eng.Query(ctx, scheduledRunsSQL, store.Params{"framework": framework, "schedule": schedule, "done": StatusDone})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read runs of schedule %s: %w", schedule, err)
	}
	defer rows.Close()
	done := map[periodKey]bool{}
	var last time.Time
	for rows.Next() {
		var from, to time.Time
		if err := rows.Scan(&from, &to); err != nil {
			return nil, time.Time{}, fmt.Errorf("read runs of schedule %s: %w", schedule, err)
		}
		done[periodKey{from.Unix(), to.Unix()}] = true
		if to.After(last) {
			last = to
		}
	}
	return done, last, rows.Err()
}
