package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/demo"
	"github.com/tapline/tapline/demo/telemetry"
	"github.com/tapline/tapline/demo/traffic"
)

// demoCommand is `tapline demo`: the whole stack on this machine with
// traffic, until Ctrl-C.
func (a *app) demoCommand() *cobra.Command {
	var root string
	var interval, reportAfter time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the demo: tapline run, the proxy tap, a FastAPI app, Nginx in front, traffic and a first compliance report",
		Long: `Run the demo stack on this machine (no Docker) until Ctrl-C.

Starts ` + "`tapline run`" + ` (embedded NATS and ClickHouse, collector with the Nginx
syslog receiver, ingest, query API and UI, compliance, and the proxy tap
configured by demo/config/tapline.yaml), the FastAPI application of
testapps/fastapi behind the tap (python3 -m uvicorn), and Debian's Nginx in
front (TLS on 127.0.0.1:9443, mTLS to the tap, its access log to the
collector over syslog). Certificates are made on the first run. A traffic
generator then sends a mix of callers (allowed, denied by policy, an expired
client certificate, no certificate, slow and failing endpoints), and a SOC 2
report over today is started once the first requests are stored.

Everything lives in the demo directory (--data-dir, default ./tapline-demo):
certificates in tls/, Tapline's data in data/, logs in logs/.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDemo(cmd.Context(), root, interval, reportAfter)
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", "", "repository root holding testapps/fastapi and demo/app; default: found from the working directory")
	f.DurationVar(&interval, "interval", 3*time.Second, "pause between rounds of traffic")
	f.DurationVar(&reportAfter, "report-after", 10*time.Second, "start the first compliance report this long after the first round")
	return cmd
}

func (a *app) runDemo(ctx context.Context, root string, interval, reportAfter time.Duration) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if root == "" {
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	dir := a.dataDir
	if dir == "" {
		dir = "tapline-demo"
	}
	logger := newLogger(config.DefaultLog(), a.stderr)
	fmt.Fprintf(a.stdout, "starting the demo in %s (first start: about a minute)\n", dir)
	stack, err := demo.Start(ctx, demo.Options{Dir: dir, Tapline: exe, Root: root, Env: a.env, Logger: logger})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	stopStack := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		return stack.Stop(sctx)
	}
	sdk, err := telemetry.New(ctx, stack.OTLPHTTP, traffic.Service)
	if err != nil {
		return errors.Join(err, stopStack())
	}
	fmt.Fprintf(a.stdout, `
Tapline demo is running.

  UI           %[1]s/search?kind=events   (sign in with the token below)
  token        %[2]s
  REST API     %[1]s/api/v1/...   (Authorization: Bearer <token>)
  Nginx        %[3]s   (TLS; the demo CA is %[4]s)
  proxy tap    %[5]s   (mTLS)
  logs         %[6]s

Traffic runs every %[7]s; a first SOC 2 report starts in %[8]s.
Press Ctrl-C to stop.

`, stack.UIURL, stack.Token, stack.NginxURL, stack.Certs.CertFile("ca"), stack.ProxyURL,
		filepath.Join(stack.Dir, "logs"), interval, reportAfter)

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	gen := stack.Traffic(sdk)
	first := make(chan struct{})
	var once sync.Once
	rounds := 0
	wg.Add(2)
	go func() {
		defer wg.Done()
		gen.Run(runCtx, interval, func(rs []traffic.Result) {
			rounds++
			if rounds == 1 || rounds%20 == 0 {
				fmt.Fprintf(a.stdout, "traffic round %d: %s\n", rounds, traffic.Summary(rs))
			}
			once.Do(func() { close(first) })
		})
	}()
	go func() {
		defer wg.Done()
		select {
		case <-first:
		case <-runCtx.Done():
			return
		}
		select {
		case <-time.After(reportAfter):
		case <-runCtx.Done():
			return
		}
		today := time.Now().UTC().Truncate(24 * time.Hour)
		rctx, rcancel := context.WithTimeout(runCtx, 5*time.Minute)
		defer rcancel()
		rep, err := stack.RunReport(rctx, "soc2", today, today.AddDate(0, 0, 1))
		if err != nil {
			if runCtx.Err() == nil {
				fmt.Fprintf(a.stderr, "demo: first compliance report: %v\n", err)
			}
			return
		}
		fmt.Fprint(a.stdout, reportSummary(rep, stack.UIURL))
	}()

	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stdout, "stopping the demo")
	case <-stack.Failed():
	}
	cancel()
	wg.Wait()
	gen.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = sdk.Shutdown(sctx)
	scancel()
	return errors.Join(stack.Err(), err, stopStack())
}

// reportSummary is the first report's result and findings, one line each.
func reportSummary(rep *report.Report, uiURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ncompliance report %s (%s, %s): %s, %d exceptions\n",
		rep.RunID, rep.Framework.Name, rep.Period.From.Format(time.DateOnly), strings.ToUpper(string(rep.Result)), rep.Summary.Exceptions)
	checks := append([]report.CheckResult(nil), rep.Checks...)
	sort.Slice(checks, func(i, j int) bool { return checks[i].Number < checks[j].Number })
	for _, c := range checks {
		for _, e := range c.Exceptions {
			fmt.Fprintf(&b, "  %-20s %-5s %s\n", c.ID, e.Severity, e.Subject)
		}
	}
	fmt.Fprintf(&b, "see %s/compliance\n\n", uiURL)
	return b.String()
}

// findRoot walks up from the working directory to the repository root (the
// directory holding testapps/fastapi/app.py).
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "testapps", "fastapi", "app.py")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("demo: testapps/fastapi/app.py not found above the working directory; run from the repository or pass --root")
		}
		dir = parent
	}
}
