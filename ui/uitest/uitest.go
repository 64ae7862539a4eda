package uitest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/ui"
)

// Tokens of the test configuration, one per role.
const (
	ViewerToken  = "ui-viewer-token-0123456789"
	AuditorToken = "ui-auditor-token-0123456789"
	AdminToken   = "ui-admin-token-0123456789"
)

// Options change the harness.
type Options struct {
	// Now is the clock of the API and the UI (default: time.Now).
	Now func() time.Time
	// Compliance serves the compliance page with reports written under
	// a temporary directory.
	Compliance bool
	// UI changes the UI configuration.
	UI func(*ui.Config)
	// Query changes the query API configuration.
	Query func(*query.Config)
	// Endpoints are the addresses the empty states show (zero: the UI's
	// defaults).
	Endpoints ui.Endpoints
}

// Harness is a running UI.
type Harness struct {
	URL     string
	Engine  store.Engine
	Query   *query.Server
	UI      *ui.Server
	Reports *ui.Reports
	// ComplianceConfig is the configuration reports run with.
	ComplianceConfig compliance.Config
	HTTP             *httptest.Server
}

// QueryConfig is the query API configuration of the harness: a token per
// role, no gRPC listener.
func QueryConfig() query.Config {
	cfg := query.Default()
	cfg.GRPC.Listen = ""
	cfg.Auth.Tokens = []query.TokenConfig{
		{Name: "viewer", Token: ViewerToken, Role: query.RoleViewer},
		{Name: "auditor", Token: AuditorToken, Role: query.RoleAuditor},
		{Name: "admin", Token: AdminToken, Role: query.RoleAdmin},
	}
	return cfg
}

// Start serves the UI and the REST API over eng on a local port. Everything
// stops when the test ends.
func Start(t testing.TB, eng store.Engine, o Options) *Harness {
	t.Helper()
	if o.Now == nil {
		o.Now = time.Now
	}
	qcfg := QueryConfig()
	if o.Query != nil {
		o.Query(&qcfg)
	}
	logger := slog.New(slog.DiscardHandler)
	qsrv, err := query.New(qcfg, eng, query.Options{Logger: logger, Now: o.Now, Node: "uitest"})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, qsrv.Start(ctx))
	t.Cleanup(func() { _ = qsrv.Shutdown(context.Background()) })

	inproc, err := ui.NewInProcess(qsrv)
	require.NoError(t, err)
	t.Cleanup(func() { _ = inproc.Close() })

	h := &Harness{Engine: eng, Query: qsrv}
	opts := ui.Options{Logger: logger, Now: o.Now, Version: "test", Endpoints: o.Endpoints}
	if o.Compliance {
		h.ComplianceConfig = compliance.Default().WithDataDir(t.TempDir())
		h.Reports, err = ui.NewReports(eng, h.ComplianceConfig, "test", logger)
		require.NoError(t, err)
		opts.Compliance = h.Reports
	}
	ucfg := ui.Default()
	if o.UI != nil {
		o.UI(&ucfg)
	}
	h.UI, err = ui.New(ucfg, inproc.Backend(), opts)
	require.NoError(t, err)
	require.NoError(t, h.UI.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = h.UI.Shutdown(sctx)
	})

	mux := http.NewServeMux()
	mux.Handle(query.PathPrefix, qsrv.Handler())
	mux.Handle("/", h.UI.Handler())
	h.HTTP = httptest.NewServer(mux)
	t.Cleanup(h.HTTP.Close)
	h.URL = h.HTTP.URL
	return h
}

// Chromium returns the path of the Chromium binary for browser tests
// ($TAPLINE_CHROMIUM, or chromium / chromium-browser on the PATH). Without
// one the test is skipped, unless CI is set: then it fails, since make test
// installs Chromium.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TAPLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed (make deps installs Debian's chromium); CI is set, so the browser tests cannot be skipped")
	}
	t.Skip("Chromium is not installed: skipping the browser tests (make deps installs Debian's chromium)")
	return ""
}
