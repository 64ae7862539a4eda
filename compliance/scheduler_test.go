package compliance_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/compliance/sign"
	"github.com/tapline/tapline/store"
)

type webhook struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
	auth   []string
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	w.bodies = append(w.bodies, b)
	w.sigs = append(w.sigs, r.Header.Get("X-Tapline-Signature"))
	w.auth = append(w.auth, r.Header.Get("Authorization"))
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhook) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bodies)
}

func doneRuns(t *testing.T, eng store.Engine) []compliance.RunInfo {
	runs, err := compliance.Runs(context.Background(), eng, 100)
	require.NoError(t, err)
	var done []compliance.RunInfo
	for _, r := range runs {
		if r.Status == compliance.StatusDone {
			done = append(done, r)
		}
	}
	return done
}

// TestSchedulerCatchesUpOnce: the daily SOC 2 schedule ran for the day
// before the data day, then Tapline was down over the next firing time.
// On start the missed run is caught up, once; a restart with the same
// store runs nothing more; the next firing time runs on schedule.
func TestSchedulerCatchesUpOnce(t *testing.T) {
	d := compliancetest.Clean(day())
	eng := seeded(t, d)
	wh := &webhook{}
	srv := httptest.NewServer(wh)
	defer srv.Close()

	cfg := testConfig(t)
	cfg.Schedules = []compliance.Schedule{{Name: "soc2-daily", Framework: "soc2", Cron: "0 1 * * *", Period: compliance.PeriodDay}}
	cfg.Webhook.URL = srv.URL + "/evidence"
	cfg.Webhook.BearerToken = "hook-token"
	ctx := context.Background()

	// The run for the day before, recorded as a scheduled run would be.
	prevDay := d.Start.AddDate(0, 0, -1)
	_, err := compliance.Run(ctx, eng, compliance.RunRequest{Framework: "soc2", From: prevDay, To: d.Start,
		OutDir: filepath.Join(t.TempDir(), "prev"), Config: cfg, Trigger: compliance.TriggerSchedule,
		Schedule: "soc2-daily", RunID: "soc2-daily-soc2-prev"})
	require.NoError(t, err)
	require.Len(t, doneRuns(t, eng), 1)

	// Down over the day's firing time (day+1 01:00), back at day+1 03:00.
	clock := compliancetest.NewClock(d.Start.Add(27 * time.Hour))
	start := func() (*compliance.Scheduler, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		s, err := compliance.NewScheduler(cfg, eng, nil, reg, compliance.WithClock(clock), compliance.WithVersion("test"))
		require.NoError(t, err)
		require.NoError(t, s.Start(ctx))
		return s, reg
	}
	s, reg := start()
	require.Eventually(t, func() bool { return len(doneRuns(t, eng)) == 2 }, time.Minute, 50*time.Millisecond)
	require.Eventually(t, func() bool { return clock.Waiting() == 1 }, time.Minute, 10*time.Millisecond, "the scheduler waits for the next firing")
	require.NoError(t, s.Shutdown(ctx))
	require.NoError(t, s.Shutdown(ctx), "Shutdown twice is fine")
	require.Equal(t, 1.0, runsCounted(t, reg, "catch-up"))

	runs := doneRuns(t, eng)
	var caught compliance.RunInfo
	for _, r := range runs {
		if r.Trigger == compliance.TriggerCatchUp {
			caught = r
		}
	}
	require.Equal(t, d.Start, caught.PeriodStart.UTC())
	require.Equal(t, d.Start.Add(24*time.Hour), caught.PeriodEnd.UTC())
	v, err := sign.Verify(caught.OutputDir, nil)
	require.NoError(t, err)
	require.True(t, v.OK(), v.Err())

	// The webhook got the manifest, signed.
	require.Equal(t, 1, wh.count())
	require.Equal(t, "Bearer hook-token", wh.auth[0])
	man, err := sign.ParsePublicKey([]byte(v.Manifest.PublicKey))
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(wh.sigs[0])
	require.NoError(t, err)
	require.True(t, ed25519.Verify(man, wh.bodies[0], sig), "the webhook body is the signed manifest")

	// A restart with the same store catches up nothing.
	s, reg = start()
	require.Eventually(t, func() bool { return clock.Waiting() == 1 }, time.Minute, 10*time.Millisecond)
	require.Len(t, doneRuns(t, eng), 2, "the missed run is caught up once, not twice")
	require.Equal(t, 0.0, runsCounted(t, reg, "catch-up"))

	// The next firing time (day+2 01:00) runs the next day on schedule.
	clock.Set(d.Start.Add(49 * time.Hour))
	require.Eventually(t, func() bool { return len(doneRuns(t, eng)) == 3 }, time.Minute, 50*time.Millisecond)
	require.NoError(t, s.Shutdown(ctx))
	require.Equal(t, 1.0, runsCounted(t, reg, "schedule"))
	require.Equal(t, 2, wh.count())
}

// runsCounted is tapline_compliance_runs_total for a trigger, status done.
func runsCounted(t *testing.T, reg *prometheus.Registry, trigger string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "tapline_compliance_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var trig, status string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "trigger":
					trig = l.GetValue()
				case "status":
					status = l.GetValue()
				}
			}
			if trig == trigger && status == compliance.StatusDone {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func TestSchedulerLifecycle(t *testing.T) {
	eng := compliancetest.Engine(t)
	cfg := testConfig(t)
	cfg.Schedules = []compliance.Schedule{{Name: "iso-weekly", Framework: "iso27001", Cron: "0 2 * * 1", Period: compliance.PeriodWeek}}
	clock := compliancetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := compliance.NewScheduler(cfg, eng, nil, nil, compliance.WithClock(clock))
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(context.Background()), "Shutdown before Start is fine")
	for range 2 {
		s, err := compliance.NewScheduler(cfg, eng, nil, nil, compliance.WithClock(clock))
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		require.Error(t, s.Start(context.Background()))
		require.Eventually(t, func() bool { return clock.Waiting() > 0 }, time.Minute, 10*time.Millisecond)
		require.NoError(t, s.Shutdown(context.Background()))
	}
	require.Empty(t, doneRuns(t, eng), "a schedule that never ran catches nothing up")

	bad := cfg
	bad.OutputDir = ""
	_, err = compliance.NewScheduler(bad, eng, nil, nil)
	require.ErrorContains(t, err, "output_dir")
}

func TestWebhookErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusBadGateway)
	}))
	defer srv.Close()
	res := &compliance.Result{RunID: "r", ManifestBytes: []byte("{}")}
	err := compliance.Deliver(context.Background(), srv.Client(), compliance.Webhook{URL: srv.URL, Timeout: 5 * time.Second}, res)
	require.ErrorContains(t, err, "502")
}
