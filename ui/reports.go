package ui

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/render"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/compliance/sign"
	"github.com/tapline/tapline/store"
)

var (
	//go:embed sql/latest_controls.sql
	latestControlsSQL string
	//go:embed sql/run_dir.sql
	runDirSQL string
)

// Compliance is what the compliance page reads and starts: the catalogue,
// the recorded runs, each control's latest result, a report run in the
// background and the files of a finished run.
type Compliance interface {
	Frameworks() []catalog.Framework
	Runs(ctx context.Context, limit int) ([]compliance.RunInfo, error)
	LatestControls(ctx context.Context) ([]ControlStatus, error)
	// Start begins a run of framework over [from, to) and returns its id
	// at once; ErrRunInProgress while another runs.
	Start(framework string, from, to time.Time, by string) (string, error)
	// Running is the id of the run in progress, or "".
	Running() string
	// Open opens one file of a run's bundle.
	Open(ctx context.Context, runID, name string) (*os.File, error)
	// Wait lets the run in progress finish (cancelling it when ctx ends)
	// and refuses new runs: the shutdown of the UI.
	Wait(ctx context.Context) error
}

// ControlStatus is one control's result in its framework's latest run.
type ControlStatus struct {
	Framework, RunID, Control string
	Result                    report.Result
	Exceptions, Waived        uint64
}

// Errors of the compliance store.
var (
	ErrRunInProgress = errors.New("a report is already running")
	ErrNoSuchFile    = errors.New("no such report file")
)

// BundleFiles are the files of a report bundle the UI serves, in the order
// it lists them.
var BundleFiles = []string{
	render.FileHTML, render.FilePDF, render.FileJSON, render.FileExceptions, render.FilePopulations,
	render.FileSamples, render.FileOSCAL, sign.ManifestFile, sign.SignatureFile,
}

// runIDPattern is what run ids look like; anything else is not looked up.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Reports is Compliance over a store: runs started here write their bundle
// under OutputDir/manual/<run id>.
type Reports struct {
	eng     store.Engine
	cfg     compliance.Config
	version string
	logger  *slog.Logger
	cat     *catalog.Catalog

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running string
}

// NewReports serves the compliance page from eng. cfg's paths must be
// filled (compliance.Config.WithDataDir).
func NewReports(eng store.Engine, cfg compliance.Config, version string, logger *slog.Logger) (*Reports, error) {
	if eng == nil {
		return nil, errors.New("ui: nil engine for reports")
	}
	if cfg.OutputDir == "" || cfg.SigningKey == "" {
		return nil, errors.New("ui: compliance output_dir and signing_key must be set (WithDataDir)")
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Reports{eng: eng, cfg: cfg, version: version, logger: logger, cat: cat, ctx: ctx, cancel: cancel}, nil
}

// Frameworks implements Compliance.
func (r *Reports) Frameworks() []catalog.Framework { return r.cat.Frameworks }

// Runs implements Compliance.
func (r *Reports) Runs(ctx context.Context, limit int) ([]compliance.RunInfo, error) {
	return compliance.Runs(ctx, r.eng, limit)
}

// LatestControls implements Compliance.
func (r *Reports) LatestControls(ctx context.Context) ([]ControlStatus, error) {
	rows, err := r.eng.Query(ctx, latestControlsSQL, store.Params{"done": compliance.StatusDone})
	if err != nil {
		return nil, fmt.Errorf("latest control results: %w", err)
	}
	defer rows.Close()
	var out []ControlStatus
	for rows.Next() {
		var cs ControlStatus
		var results []string
		if err := rows.Scan(&cs.Framework, &cs.RunID, &cs.Control, &results, &cs.Exceptions, &cs.Waived); err != nil {
			return nil, fmt.Errorf("latest control results: %w", err)
		}
		for _, res := range results {
			cs.Result = report.Worse(cs.Result, report.Result(res))
		}
		out = append(out, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest control results: %w", err)
	}
	return out, nil
}

// Start implements Compliance.
func (r *Reports) Start(framework string, from, to time.Time, by string) (string, error) {
	if _, err := r.cat.Framework(framework); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != "" {
		return "", ErrRunInProgress
	}
	if r.ctx.Err() != nil {
		return "", errors.New("shutting down")
	}
	id := fmt.Sprintf("%s-%s-ui-%s", framework, from.UTC().Format("20060102T1504Z"), randomHex(4))
	dir := filepath.Join(r.cfg.OutputDir, "manual", id)
	r.running = id
	r.wg.Add(1)
	r.logger.Info("compliance report started from the UI", "run_id", id, "framework", framework, "by", by)
	go func() {
		defer r.wg.Done()
		res, err := compliance.Run(r.ctx, r.eng, compliance.RunRequest{
			Framework: framework, From: from, To: to, OutDir: dir, Config: r.cfg,
			Trigger: compliance.TriggerManual, RunID: id, Version: r.version, Logger: r.logger,
		})
		if err != nil {
			r.logger.Error("compliance report failed", "run_id", id, "err", err)
		} else {
			r.logger.Info("compliance report done", "run_id", id, "result", res.Report.Result, "dir", res.Dir)
		}
		r.mu.Lock()
		r.running = ""
		r.mu.Unlock()
	}()
	return id, nil
}

// Running implements Compliance.
func (r *Reports) Running() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running
}

// Open implements Compliance: only the bundle's known files, only inside
// the run's recorded directory.
func (r *Reports) Open(ctx context.Context, runID, name string) (*os.File, error) {
	if !runIDPattern.MatchString(runID) || !slices.Contains(BundleFiles, name) {
		return nil, ErrNoSuchFile
	}
	rows, err := r.eng.Query(ctx, runDirSQL, store.Params{"run": runID})
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	defer rows.Close()
	var dir, st string
	if rows.Next() {
		if err := rows.Scan(&dir, &st); err != nil {
			return nil, fmt.Errorf("run %s: %w", runID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run %s: %w", runID, err)
	}
	if dir == "" || st != compliance.StatusDone {
		return nil, ErrNoSuchFile
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, ErrNoSuchFile
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return nil, ErrNoSuchFile
	}
	return f, nil
}

// Wait implements Compliance.
func (r *Reports) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		r.cancel()
		return nil
	case <-ctx.Done():
		r.cancel()
		<-done
		return ctx.Err()
	}
}

var _ Compliance = (*Reports)(nil)
