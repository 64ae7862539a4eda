package compliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/tapline/tapline/store"
)

// Clock is the scheduler's time source; tests pass a manual one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option changes a Scheduler.
type Option func(*Scheduler)

// WithClock sets the clock (default: the system clock).
func WithClock(c Clock) Option { return func(s *Scheduler) { s.clock = c } }

// WithVersion sets the Tapline version written into reports.
func WithVersion(v string) Option { return func(s *Scheduler) { s.version = v } }

// WithHTTPClient sets the client that calls the webhook.
func WithHTTPClient(c *http.Client) Option { return func(s *Scheduler) { s.http = c } }

// Scheduler runs the configured schedules: on Start it catches up the runs
// missed since each schedule's last recorded run (once each: a run is
// keyed by framework, schedule and period in compliance_runs), then runs
// each schedule when its cron expression fires. Runs happen one at a time
// in one goroutine. Each bundle goes to OutputDir/<schedule>/<run id>, and
// its manifest to the webhook when one is configured.
type Scheduler struct {
	cfg     Config
	eng     store.Engine
	logger  *slog.Logger
	clock   Clock
	version string
	http    *http.Client
	scheds  []parsedSchedule
	metrics *metrics

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

type parsedSchedule struct {
	Schedule
	cron cron.Schedule
}

// NewScheduler checks cfg's schedules and returns a Scheduler. cfg's paths
// must be filled (Config.WithDataDir). reg may be nil.
func NewScheduler(cfg Config, eng store.Engine, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("compliance: %w", err)
	}
	if cfg.OutputDir == "" || cfg.SigningKey == "" {
		return nil, errors.New("compliance: output_dir and signing_key must be set (Config.WithDataDir)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg, eng: eng, logger: logger, clock: realClock{}, http: &http.Client{Timeout: cfg.Webhook.Timeout}}
	for _, o := range opts {
		o(s)
	}
	for _, sc := range cfg.Schedules {
		c, err := cronParser.Parse(sc.Cron)
		if err != nil {
			return nil, fmt.Errorf("compliance: schedule %s: %w", sc.Name, err)
		}
		s.scheds = append(s.scheds, parsedSchedule{sc, c})
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Start starts the scheduling goroutine and returns at once; catching up
// happens in that goroutine.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil || s.stopped {
		return errors.New("compliance: scheduler already started")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	s.logger.Info("compliance scheduler started", "schedules", len(s.scheds), "output_dir", s.cfg.OutputDir)
	go func() {
		defer close(s.done)
		s.loop(runCtx)
	}()
	return nil
}

// Shutdown stops the scheduler, waiting (within ctx) for a run in progress
// to stop. Safe before Start and twice.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("compliance scheduler: %w", ctx.Err())
	}
}

// due is one run to do: a schedule and the time it fired.
type due struct {
	sched *parsedSchedule
	fired time.Time
}

func (s *Scheduler) loop(ctx context.Context) {
	// last is, per schedule, the latest firing time handled.
	last := map[string]time.Time{}
	now := s.clock.Now().UTC()
	for i := range s.scheds {
		sc := &s.scheds[i]
		if err := s.catchUp(ctx, sc, now); err != nil && ctx.Err() == nil {
			s.logger.Error("compliance catch-up failed", "schedule", sc.Name, "err", err)
		}
		last[sc.Name] = now
	}
	for {
		if ctx.Err() != nil {
			return
		}
		now := s.clock.Now().UTC()
		var next time.Time
		for i := range s.scheds {
			t := s.scheds[i].cron.Next(last[s.scheds[i].Name])
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
		if next.IsZero() {
			<-ctx.Done()
			return
		}
		if wait := next.Sub(now); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.clock.After(wait):
			}
			continue
		}
		var todo []due
		for i := range s.scheds {
			sc := &s.scheds[i]
			for t := sc.cron.Next(last[sc.Name]); !t.After(now); t = sc.cron.Next(t) {
				last[sc.Name] = t
				todo = append(todo, due{sc, t})
			}
		}
		sort.SliceStable(todo, func(i, j int) bool { return todo[i].fired.Before(todo[j].fired) })
		for _, d := range todo {
			if ctx.Err() != nil {
				return
			}
			s.runOnce(ctx, d.sched, d.fired, TriggerSchedule)
		}
	}
}

// catchUp runs the periods of sc that fired after its last recorded run and
// up to now and were not run (at most MaxCatchUp, the most recent). A
// schedule that never ran has nothing to catch up.
func (s *Scheduler) catchUp(ctx context.Context, sc *parsedSchedule, now time.Time) error {
	done, lastEnd, err := donePeriods(ctx, s.eng, sc.Framework, sc.Name)
	if err != nil {
		return err
	}
	if lastEnd.IsZero() {
		return nil
	}
	var missed []time.Time
	for t := sc.cron.Next(lastEnd.Add(-time.Nanosecond)); !t.After(now); t = sc.cron.Next(t) {
		from, to := PeriodOf(sc.Period, t)
		if !done[periodKey{from.Unix(), to.Unix()}] {
			missed = append(missed, t)
		}
	}
	if n := s.cfg.MaxCatchUp; len(missed) > n {
		s.logger.Warn("compliance catch-up capped", "schedule", sc.Name, "missed", len(missed), "max_catch_up", n)
		missed = missed[len(missed)-n:]
	}
	for _, t := range missed {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.runOnce(ctx, sc, t, TriggerCatchUp)
	}
	return nil
}

// PeriodOf is the period a schedule reports on when it fires at t: the
// day, ISO week or calendar month before the one t falls in (UTC).
func PeriodOf(period string, t time.Time) (from, to time.Time) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case PeriodWeek:
		offset := (int(day.Weekday()) + 6) % 7 // days since Monday
		to = day.AddDate(0, 0, -offset)
		return to.AddDate(0, 0, -7), to
	case PeriodMonth:
		to = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return to.AddDate(0, -1, 0), to
	default:
		return day.AddDate(0, 0, -1), day
	}
}

// scheduledRunID names the run of a schedule for a period; running the
// same period again reuses it, so compliance_runs keeps one run.
func scheduledRunID(sc Schedule, from time.Time) string {
	return fmt.Sprintf("%s-%s-%s", sc.Name, sc.Framework, from.UTC().Format("20060102T1504Z"))
}

// runOnce runs sc's report for the period of firing time fired, unless it
// is already recorded as done.
func (s *Scheduler) runOnce(ctx context.Context, sc *parsedSchedule, fired time.Time, trigger string) {
	from, to := PeriodOf(sc.Period, fired)
	done, _, err := donePeriods(ctx, s.eng, sc.Framework, sc.Name)
	if err != nil {
		s.logger.Error("compliance run skipped: cannot read earlier runs", "schedule", sc.Name, "err", err)
		s.metrics.runs.WithLabelValues(sc.Framework, trigger, StatusFailed).Inc()
		return
	}
	if done[periodKey{from.Unix(), to.Unix()}] {
		return
	}
	runID := scheduledRunID(sc.Schedule, from)
	start := time.Now()
	res, err := Run(ctx, s.eng, RunRequest{
		Framework: sc.Framework, From: from, To: to,
		OutDir:  filepath.Join(s.cfg.OutputDir, sc.Name, runID),
		Replace: true, Config: s.cfg, Trigger: trigger, Schedule: sc.Name, RunID: runID,
		Now: s.clock.Now(), Version: s.version, Logger: s.logger,
	})
	s.metrics.duration.WithLabelValues(sc.Framework).Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.runs.WithLabelValues(sc.Framework, trigger, StatusFailed).Inc()
		s.logger.Error("compliance run failed", "schedule", sc.Name, "run", runID, "err", err)
		return
	}
	s.metrics.runs.WithLabelValues(sc.Framework, trigger, StatusDone).Inc()
	s.metrics.lastSuccess.WithLabelValues(sc.Name).Set(float64(s.clock.Now().Unix()))
	s.logger.Info("compliance report written", "schedule", sc.Name, "trigger", trigger, "run", runID,
		"result", res.Report.Result, "dir", res.Dir)
	if s.cfg.Webhook.URL != "" {
		if err := s.deliver(ctx, res); err != nil {
			s.metrics.webhook.WithLabelValues("failed").Inc()
			s.logger.Error("compliance webhook failed", "run", runID, "err", err)
		} else {
			s.metrics.webhook.WithLabelValues("delivered").Inc()
		}
	}
}

// deliver POSTs the run's manifest to the webhook.
func (s *Scheduler) deliver(ctx context.Context, res *Result) error {
	return Deliver(ctx, s.http, s.cfg.Webhook, res)
}

// Deliver POSTs a run's manifest (application/json) to the webhook, with
// headers X-Tapline-Run-Id, X-Tapline-Signature (base64 Ed25519 over the
// body) and X-Tapline-Key-Id. Any status other than 2xx is an error.
func Deliver(ctx context.Context, client *http.Client, wh Webhook, res *Result) error {
	ctx, cancel := context.WithTimeout(ctx, wh.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(res.ManifestBytes))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tapline-Run-Id", res.RunID)
	req.Header.Set("X-Tapline-Signature", res.Signature.Signature)
	req.Header.Set("X-Tapline-Key-Id", res.Signature.KeyID)
	if tok := wh.BearerToken.Value(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s answered %s", wh.URL, resp.Status)
	}
	return nil
}

type metrics struct {
	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	webhook     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_compliance_runs_total", Help: "Scheduled compliance report runs, by framework, trigger and status.",
		}, []string{"framework", "trigger", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tapline_compliance_run_duration_seconds", Help: "Time to produce a scheduled compliance report.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 10),
		}, []string{"framework"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tapline_compliance_last_success_timestamp_seconds", Help: "When each schedule last produced a report.",
		}, []string{"schedule"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_compliance_webhook_deliveries_total", Help: "Manifest deliveries to the webhook, by outcome.",
		}, []string{"outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.duration, m.lastSuccess, m.webhook} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("compliance metrics: %w", err)
			}
		}
	}
	return m, nil
}
