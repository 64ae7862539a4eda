package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/compliance/sign"
	"github.com/tapline/tapline/service"
	"github.com/tapline/tapline/store/schema"
)

// reportCommand is `tapline report`: evidence reports by hand, their
// verification, and the signing key.
func (a *app) reportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Run, verify and sign SOC 2 / ISO 27001 evidence reports",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(a.stderr, cmd.UsageString())
			return usageError{errors.New("report: a subcommand is required (run, schedule, verify, keygen)")}
		},
	}
	cmd.AddCommand(a.reportRunCommand(), a.reportScheduleCommand(), a.reportVerifyCommand(), a.reportKeygenCommand())
	return cmd
}

func (a *app) reportRunCommand() *cobra.Command {
	var framework, from, to, out string
	cmd := &cobra.Command{
		Use:   "run --framework soc2|iso27001 --out DIR [--from T --to T]",
		Short: "Produce one evidence report into DIR (default period: yesterday, UTC)",
		Long: `Run the framework's checks over the period [--from, --to) against the
configured store and write the signed bundle to --out: report.html,
report.pdf, report.json, exceptions.csv, populations.csv, samples.csv,
oscal-assessment-results.json, manifest.json and manifest.sig. Times are
RFC 3339 or YYYY-MM-DD (UTC midnight). The run is recorded in
compliance_runs and compliance_findings.

The signing key is compliance.signing_key (default DATA_DIR/compliance/
signing.key), created on first use; its public key is printed then.
With the embedded engine, the data directory is used by one process at a
time: stop a running tapline first, or use its scheduled runs.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if framework == "" || out == "" {
				return usageError{errors.New("report run: --framework and --out are required")}
			}
			start, end, err := reportPeriod(from, to, time.Now())
			if err != nil {
				return usageError{err}
			}
			cfg, err := a.loadConfigFor("report")
			if err != nil {
				return err
			}
			dir, err := dataDir(cfg)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log, a.stderr)
			ctx := cmd.Context()
			eng, err := openEngine(ctx, cfg.Store, dir, logger)
			if err != nil {
				return err
			}
			defer eng.Close()
			if _, err := schema.Migrate(ctx, eng, cfg.Store.Schema); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			res, err := compliance.Run(ctx, eng, compliance.RunRequest{
				Framework: framework, From: start, To: end, OutDir: out,
				Config: cfg.Compliance.WithDataDir(dir), Version: a.version, Logger: logger,
			})
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if res.KeyCreated {
				fmt.Fprintf(a.stdout, "created signing key %s (key id %s); its public key, for verifying reports:\n%s",
					cfg.Compliance.WithDataDir(dir).SigningKey, res.Manifest.KeyID, publicPEM(res.Manifest.PublicKey))
			}
			r := res.Report
			fmt.Fprintf(a.stdout, "report %s: %s %s to %s: %s (controls: %s)\nwritten to %s, signed by key %s\n",
				res.RunID, r.Framework.Name, r.Period.From.Format(time.RFC3339), r.Period.To.Format(time.RFC3339),
				strings.ToUpper(string(r.Result)), summary(r.Summary.Controls), res.Dir, res.Manifest.KeyID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&framework, "framework", "", "soc2 or iso27001")
	f.StringVar(&from, "from", "", "start of the period (RFC 3339 or YYYY-MM-DD, UTC); default yesterday")
	f.StringVar(&to, "to", "", "end of the period, excluded; default the day after --from")
	f.StringVar(&out, "out", "", "directory to write the bundle to (must not exist or be empty)")
	return cmd
}

func (a *app) reportVerifyCommand() *cobra.Command {
	var pubFile string
	cmd := &cobra.Command{
		Use:   "verify DIR [--public-key FILE]",
		Short: "Check a report bundle's signature and every file's SHA-256; name what was changed",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("report verify: one directory is required")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var trusted ed25519.PublicKey
			if pubFile != "" {
				data, err := os.ReadFile(pubFile)
				if err != nil {
					return fmt.Errorf("public key: %w", err)
				}
				if trusted, err = sign.ParsePublicKey(data); err != nil {
					return err
				}
			}
			v, err := sign.Verify(args[0], trusted)
			if err != nil {
				return err
			}
			for _, p := range v.Problems {
				fmt.Fprintf(a.stdout, "TAMPERED %s\n", p)
			}
			if !v.OK() {
				return v.Err()
			}
			m := v.Manifest
			fmt.Fprintf(a.stdout, "OK %s: run %s (%s, %s to %s), %d files, signature by key %s",
				args[0], m.RunID, m.Framework, m.Period.From.Format(time.RFC3339), m.Period.To.Format(time.RFC3339), v.Checked, v.KeyID)
			if v.Pinned {
				fmt.Fprintln(a.stdout, " (the trusted key)")
			} else {
				fmt.Fprintln(a.stdout, " as named in the manifest; pass --public-key to check it is yours")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pubFile, "public-key", "", "the signer's public key (PEM or base64); default: the key the manifest names")
	return cmd
}

// reportScheduleCommand is `tapline report schedule`: the compliance
// scheduler as a service of its own, for deployments that run each part in
// its own process (`tapline run` has it built in).
func (a *app) reportScheduleCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schedule",
		Short: "Run the scheduled evidence reports (compliance.schedules) as a service",
		Long: `Run the compliance scheduler against the configured store: each schedule
of compliance.schedules fires on its cron expression, missed periods are
caught up on start, bundles are written under compliance.output_dir and
sent to compliance.webhook. /healthz, /readyz and /metrics are served on
the HTTP port. Run one per store: periods are recorded in compliance_runs,
so a restart never repeats a finished one. tapline run includes the
scheduler; this is for deployments that split the parts.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("report")
			if err != nil {
				return err
			}
			if len(cfg.Compliance.Schedules) == 0 {
				return errors.New("report schedule: compliance.schedules is empty: nothing to schedule")
			}
			p, err := a.newProcess("tapline report schedule", cfg)
			if err != nil {
				return err
			}
			p.addStore()
			p.addCompliance(a.version)
			return p.svc.Run(cmd.Context())
		},
	}
}

func (a *app) reportKeygenCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "keygen [--key FILE]",
		Short: "Create the report signing key if missing and print its public key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				cfg, err := a.loadConfigFor("report")
				if err != nil {
					return err
				}
				dir, err := dataDir(cfg)
				if err != nil {
					return err
				}
				path = cfg.Compliance.WithDataDir(dir).SigningKey
			}
			key, created, err := sign.LoadOrCreateKey(path)
			if err != nil {
				return err
			}
			pub := key.Public().(ed25519.PublicKey)
			verb := "existing"
			if created {
				verb = "created"
			}
			fmt.Fprintf(a.stdout, "%s signing key %s (key id %s)\n%s", verb, path, sign.KeyID(pub), sign.PublicKeyPEM(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "key", "", "key file; default compliance.signing_key")
	return cmd
}

// addCompliance adds the compliance scheduler, built on start from the
// store's engine. It runs the configured schedules and catches up missed
// runs.
func (p *process) addCompliance(version string) {
	cfg := p.cfg.Compliance.WithDataDir(p.dataDir)
	p.svc.Add("compliance", service.Lazy(func(context.Context) (*compliance.Scheduler, error) {
		return compliance.NewScheduler(cfg, p.store.Engine(), p.logger, p.reg, compliance.WithVersion(version))
	}))
}

// reportPeriod parses --from and --to: both empty is yesterday (UTC); an
// empty --to is a day after --from.
func reportPeriod(from, to string, now time.Time) (time.Time, time.Time, error) {
	if from == "" && to == "" {
		today := now.UTC().Truncate(24 * time.Hour)
		return today.AddDate(0, 0, -1), today, nil
	}
	if from == "" {
		return time.Time{}, time.Time{}, errors.New("report run: --to needs --from")
	}
	start, err := parseTime(from)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("report run: --from: %w", err)
	}
	end := start.AddDate(0, 0, 1)
	if to != "" {
		if end, err = parseTime(to); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("report run: --to: %w", err)
		}
	}
	if !start.Before(end) {
		return time.Time{}, time.Time{}, errors.New("report run: --from must be before --to")
	}
	return start, end, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

func summary(counts map[report.Result]int) string {
	var parts []string
	for _, r := range report.Results() {
		if n := counts[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	return strings.Join(parts, ", ")
}

func publicPEM(b64 string) string {
	pub, err := sign.ParsePublicKey([]byte(b64))
	if err != nil {
		return b64 + "\n"
	}
	return string(sign.PublicKeyPEM(pub))
}
