package report

import (
	"fmt"
	"slices"
	"time"
)

// FormatVersion names the layout of Report in its JSON form.
const FormatVersion = "tapline.compliance.report/v1"

// Result is the outcome of a check on one day, of a check over a period, or
// of a control.
type Result string

// Results, from best to worst: see Worse.
const (
	// Pass: data was present and no exception was found.
	Pass Result = "pass"
	// Waived: exceptions were found and every one is covered by a waiver in
	// force (accepted, with a justification, an approver and an expiry).
	Waived Result = "waived"
	// Warn: only exceptions of warning severity were found.
	Warn Result = "warn"
	// Error: the check could not be assessed (no data, a query failed, or
	// it is not configured). Missing data is never a pass.
	Error Result = "error"
	// Fail: at least one exception not covered by a waiver.
	Fail Result = "fail"
)

var rank = map[Result]int{Pass: 0, Waived: 1, Warn: 2, Error: 3, Fail: 4}

// Worse returns the worse of two results (fail > error > warn > waived >
// pass). The zero Result counts as better than pass.
func Worse(a, b Result) Result {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Severity of an exception.
type Severity string

// Severities.
const (
	SeverityFail Severity = "fail"
	SeverityWarn Severity = "warn"
)

// Report is one evidence report: one framework, one period, one scope.
type Report struct {
	Format      string    `json:"format"`
	RunID       string    `json:"run_id"`
	Framework   Framework `json:"framework"`
	Period      Period    `json:"period"`
	Scope       Scope     `json:"scope"`
	GeneratedAt time.Time `json:"generated_at"`
	Generator   Generator `json:"generator"`
	// Trigger is manual, schedule or catch-up; Schedule names the schedule.
	Trigger  string `json:"trigger"`
	Schedule string `json:"schedule,omitempty"`
	// Seed orders the samples: the same data and seed give the same samples.
	Seed uint64 `json:"seed"`
	// Samples is the most samples shown per exception.
	Samples   int    `json:"samples_per_exception"`
	UIBaseURL string `json:"ui_base_url"`

	Result    Result          `json:"result"`
	Summary   Summary         `json:"summary"`
	Controls  []ControlResult `json:"controls"`
	Checks    []CheckResult   `json:"checks"`
	Waivers   []WaiverStatus  `json:"waivers"`
	Integrity Integrity       `json:"integrity"`
}

// Framework is the framework assessed.
type Framework struct {
	ID      string `json:"id"`      // soc2, iso27001
	Name    string `json:"name"`    // e.g. "SOC 2"
	Version string `json:"version"` // e.g. "TSC 2017 (points of focus revised 2022)"
	// OSCALPrefix goes before a lower-cased control id to make its OSCAL
	// control-id ("a." for ISO Annex A).
	OSCALPrefix string `json:"oscal_prefix"`
}

// Period is the half-open interval [From, To) assessed, in UTC.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Days returns the UTC dates the period touches, as YYYY-MM-DD.
func (p Period) Days() []string {
	var out []string
	for d := p.From.UTC().Truncate(24 * time.Hour); d.Before(p.To); d = d.Add(24 * time.Hour) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

func (p Period) String() string {
	return fmt.Sprintf("%s to %s", p.From.UTC().Format(time.RFC3339), p.To.UTC().Format(time.RFC3339))
}

// Generator is the program that produced the report.
type Generator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Summary counts results.
type Summary struct {
	Controls map[Result]int `json:"controls"`
	Checks   map[Result]int `json:"checks"`
	// Exceptions and WaivedExceptions count exception rows over all checks.
	Exceptions       int `json:"exceptions"`
	WaivedExceptions int `json:"waived_exceptions"`
}

// ControlResult is one control of the framework: the worst result of its
// checks.
type ControlResult struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Result      Result   `json:"result"`
	Checks      []string `json:"checks"`
}

// CheckResult is one check run over the period.
type CheckResult struct {
	ID          string   `json:"id"`
	Number      int      `json:"number"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Controls    []string `json:"controls"`
	// PopulationLabel says what Population counts ("TLS connections").
	PopulationLabel string `json:"population_label"`
	Population      uint64 `json:"population"`
	Result          Result `json:"result"`
	// Message explains an error or sums the result up.
	Message string `json:"message,omitempty"`
	// PerDay is false for checks assessed once over the whole period; their
	// Days hold one entry whose Day is the period's first day.
	PerDay     bool        `json:"per_day"`
	Days       []DayResult `json:"days"`
	Exceptions []Exception `json:"exceptions"`
	Samples    []Sample    `json:"samples"`
	Queries    []Query     `json:"queries"`
	Params     []Param     `json:"params"`
	// Method says how the check decides, in words, for the auditor.
	Method string `json:"method"`
}

// DayResult is a check's result on one day.
type DayResult struct {
	Day        string `json:"day"` // YYYY-MM-DD (UTC)
	Result     Result `json:"result"`
	Population uint64 `json:"population"`
	Exceptions int    `json:"exceptions"`
	Waived     int    `json:"waived"`
	Message    string `json:"message,omitempty"`
}

// Exception is one thing a check found wrong on one day: a subject (a
// service pair, a certificate, a listener and reason) with how many items
// (requests, connections) it covers.
type Exception struct {
	Day      string   `json:"day"`
	Subject  string   `json:"subject"`
	Severity Severity `json:"severity"`
	Items    uint64   `json:"items"`
	Detail   string   `json:"detail"`
	// Waiver is set when a waiver in force covers the exception; it is then
	// shown as accepted and does not fail the check.
	Waiver *WaiverRef `json:"waiver,omitempty"`
}

// Sample is one record behind an exception, linking to the UI.
type Sample struct {
	Day        string    `json:"day"`
	Subject    string    `json:"subject"`
	Time       time.Time `json:"time"`
	TraceID    string    `json:"trace_id,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Detail     string    `json:"detail"`
	TraceURL   string    `json:"trace_url,omitempty"`
	RequestURL string    `json:"request_url,omitempty"`
}

// Query is the exact SQL a check ran; its parameters are in
// CheckResult.Params.
type Query struct {
	Name string `json:"name"` // population, exceptions, samples
	SQL  string `json:"sql"`
}

// Param is one bound query parameter, as ClickHouse received it.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WaiverRef names the waiver that covers an exception.
type WaiverRef struct {
	ID            string    `json:"id"`
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Expires       time.Time `json:"expires"`
}

// WaiverStatus is a configured waiver and what it did in this report.
type WaiverStatus struct {
	ID            string    `json:"id"`
	Check         string    `json:"check"`
	Subject       string    `json:"subject"`
	Justification string    `json:"justification"`
	Approver      string    `json:"approver"`
	Approved      time.Time `json:"approved,omitzero"`
	Expires       time.Time `json:"expires"`
	// Status is "applied" (covered exceptions), "unused" (in force, matched
	// nothing) or "expired" (not in force during the period's exceptions).
	Status string `json:"status"`
	// Covered counts the exceptions the waiver covered.
	Covered int `json:"covered"`
}

// Integrity is what ties the report to the stored evidence.
type Integrity struct {
	// LedgerOK is true when the ingest ledger's chains verify over the
	// period (check evidence_integrity).
	LedgerOK bool `json:"ledger_ok"`
	// LedgerHeads are the chain heads of the period: each chain's last
	// batch hash fixes every batch before it.
	LedgerHeads []LedgerHead `json:"ledger_heads"`
	// LedgerError is set when the ledger could not be read.
	LedgerError string `json:"ledger_error,omitempty"`
}

// LedgerHead is one ingest ledger chain's head in the period.
type LedgerHead struct {
	Stream     string `json:"stream"`
	Chain      string `json:"chain"`
	FirstBatch uint64 `json:"first_batch"`
	LastBatch  uint64 `json:"last_batch"`
	Batches    uint64 `json:"batches"`
	HeadHash   string `json:"head_hash"`
}

// Check returns the check with id, or nil.
func (r *Report) Check(id string) *CheckResult {
	for i := range r.Checks {
		if r.Checks[i].ID == id {
			return &r.Checks[i]
		}
	}
	return nil
}

// Control returns the control with id, or nil.
func (r *Report) Control(id string) *ControlResult {
	for i := range r.Controls {
		if r.Controls[i].ID == id {
			return &r.Controls[i]
		}
	}
	return nil
}

// Finish computes the control results from the check results, the summary
// and the overall result. Call it once the checks are filled in.
func (r *Report) Finish() {
	r.Summary = Summary{Controls: map[Result]int{}, Checks: map[Result]int{}}
	byID := map[string]*CheckResult{}
	for i := range r.Checks {
		c := &r.Checks[i]
		byID[c.ID] = c
		r.Summary.Checks[c.Result]++
		for _, e := range c.Exceptions {
			if e.Waiver != nil {
				r.Summary.WaivedExceptions++
			} else {
				r.Summary.Exceptions++
			}
		}
	}
	r.Result = ""
	for i := range r.Controls {
		ctl := &r.Controls[i]
		ctl.Result = ""
		for _, id := range ctl.Checks {
			if c := byID[id]; c != nil {
				ctl.Result = Worse(ctl.Result, c.Result)
			}
		}
		if ctl.Result == "" {
			ctl.Result = Error // a control with no check run cannot pass
		}
		r.Summary.Controls[ctl.Result]++
		r.Result = Worse(r.Result, ctl.Result)
	}
	if r.Result == "" {
		r.Result = Error
	}
}

// Results lists the results in report order, best first.
func Results() []Result { return []Result{Pass, Waived, Warn, Error, Fail} }

// SortExceptions orders exceptions by day, then subject.
func SortExceptions(es []Exception) {
	slices.SortStableFunc(es, func(a, b Exception) int {
		if a.Day != b.Day {
			if a.Day < b.Day {
				return -1
			}
			return 1
		}
		switch {
		case a.Subject < b.Subject:
			return -1
		case a.Subject > b.Subject:
			return 1
		}
		return 0
	})
}
