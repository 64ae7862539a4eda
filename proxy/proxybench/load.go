package proxybench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Load is a closed-loop load: Concurrency workers, each on its own
// keep-alive connection, send a request as soon as the previous answer is
// read, for Duration.
type Load struct {
	URL         string
	Client      *http.Client // one client for all workers; its transport keeps the connections
	Concurrency int
	Duration    time.Duration
	// Warmup requests per worker are sent first and not measured (TLS
	// handshakes, connection pools).
	Warmup int
	Body   []byte // request body (POST); nil means GET
}

// Result is what a Load measured.
type Result struct {
	Requests  int
	Errors    int
	FirstErr  error
	Elapsed   time.Duration
	PerSecond float64
	P50, P90  time.Duration
	P99, Max  time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d req in %s (%.0f/s), %d errors, p50 %s p90 %s p99 %s max %s",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.Errors,
		us(r.P50), us(r.P90), us(r.P99), us(r.Max))
}

func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

// Run runs the load and returns latencies and throughput.
func (l Load) Run(ctx context.Context) (Result, error) {
	if l.Concurrency <= 0 || l.Duration <= 0 || l.Client == nil {
		return Result{}, errors.New("proxybench: concurrency, duration and client are required")
	}
	one := func(ctx context.Context) error {
		method := http.MethodGet
		var body io.Reader
		if l.Body != nil {
			method, body = http.MethodPost, bytes.NewReader(l.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, l.URL, body)
		if err != nil {
			return err
		}
		resp, err := l.Client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	for range l.Warmup {
		var wg sync.WaitGroup
		errs := make([]error, l.Concurrency)
		for i := range l.Concurrency {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = one(ctx) }()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return Result{}, fmt.Errorf("proxybench: warm-up against %s: %w", l.URL, err)
		}
	}

	type worker struct {
		lat  []time.Duration
		errs int
		err  error
	}
	workers := make([]worker, l.Concurrency)
	runCtx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1<<16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				t0 := time.Now()
				err := one(ctx)
				d := time.Since(t0)
				if err != nil {
					w.errs++
					if w.err == nil {
						w.err = err
					}
					continue
				}
				w.lat = append(w.lat, d)
			}
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errs
		if res.FirstErr == nil {
			res.FirstErr = w.err
		}
	}
	res.Requests = len(all)
	if len(all) == 0 {
		return res, fmt.Errorf("proxybench: no successful request against %s: %v", l.URL, res.FirstErr)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	res.P50, res.P90, res.P99, res.Max = pct(0.50), pct(0.90), pct(0.99), all[len(all)-1]
	res.PerSecond = float64(res.Requests) / res.Elapsed.Seconds()
	return res, nil
}
