package ui_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/ui/uitest"
)

// browser is one headless Chromium tab that records what the pages write
// to the console: console API calls, uncaught exceptions and browser log
// entries (CSP violations and failed loads among them).
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	messages []string
}

// Viewports the pages are checked at: a 1280 px desktop and a laptop.
const (
	desktopW, desktopH = 1280, 900
	laptopW, laptopH   = 1366, 768
)

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := uitest.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(desktopW, desktopH),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: tabCtx, base: base}
	require.NoError(t, chromedp.Do(tabCtx, chromedp.EmulateViewport(desktopW, desktopH)))
	var wg sync.WaitGroup
	wg.Add(1)
	msgs := chromedp.Console(tabCtx)
	go func() {
		defer wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.messages = append(b.messages, string(m.Type)+": "+m.Text+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		wg.Wait()
	})
	return b
}

// open loads a page and waits for the selector.
func (b *browser) open(path, waitFor string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(b.base+path),
		chromedp.WaitVisible(chromedp.CSS(waitFor)),
	)
	if err != nil {
		// Show what the page says instead.
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.location.href + "\n" + document.body.innerText`))
		b.t.Fatalf("open %s, waiting for %s: %v; the page ends:\n%s", path, waitFor, err, text[max(0, len(text)-1500):])
	}
}

// text returns an element's text.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, "text of %s", sel)
	return s
}

// eval runs a script that returns a value of type T.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	require.NoError(b.t, err, "evaluate %s", js)
	return v
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return eval[int](b, `document.querySelectorAll(`+jsString(sel)+`).length`)
}

func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(b.t, err)
	return loc
}

// screenshot saves the page under artifacts/ui (git-ignored).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	dir := os.Getenv("TAPLINE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "artifacts")
	}
	dir = filepath.Join(dir, "ui")
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// noConsoleErrors fails the test with what the pages wrote to the console
// since the last call.
func (b *browser) noConsoleErrors(page string) {
	b.t.Helper()
	// Console events arrive asynchronously; give the tab a moment to flush
	// them by running a round trip through it.
	_ = eval[int](b, `1`)
	b.mu.Lock()
	msgs := b.messages
	b.messages = nil
	b.mu.Unlock()
	require.Empty(b.t, msgs, "console errors on %s", page)
}

// login signs in with a token through the form, using the keyboard.
func (b *browser) login(token string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx,
		chromedp.Navigate(b.base+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token+"\r"),
		chromedp.WaitVisible(chromedp.CSS("header nav")),
	))
}

func (b *browser) logout() {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(".who button")),
		chromedp.WaitVisible(chromedp.ID("token")),
	))
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

func TestBrowser(t *testing.T) {
	eng := sharedEngine(t)
	h := uitest.Start(t, eng, uitest.Options{Now: func() time.Time { return querytest.Now }, Compliance: true})
	b := newBrowser(t, h.URL)

	t.Run("sign-in page", func(t *testing.T) {
		b.t = t
		b.open("/search", "#token") // redirected to sign in
		require.Contains(t, b.location(), "/login?next=%2Fsearch")
		require.Equal(t, "API token", b.text(`label[for="token"]`))
		b.screenshot("login")
		b.noConsoleErrors("login")
	})

	b.t = t
	b.login(uitest.AuditorToken)

	pages := []struct {
		name, path, wait string
		check            func(t *testing.T)
	}{
		{"search-traces", "/search?range=1h", "#traces tbody tr", func(t *testing.T) {
			require.Greater(t, b.count("#traces tbody tr"), 10)
			require.Greater(t, b.count("svg.scatter circle.pt"), 10)
			require.Positive(t, b.count("svg.scatter circle.pt.err"))
		}},
		{"search-events", "/search?kind=events&range=1h", "#events tbody tr", func(t *testing.T) {
			require.Greater(t, b.count("#events tbody tr"), 10)
			require.Positive(t, b.count("#events .hop"))
		}},
		{"trace", "/trace/" + querytest.CheckoutTraceID, "#waterfall .wf-row", func(t *testing.T) {
			require.Positive(t, b.count(`#waterfall .wf-row.err`), "errors highlighted")
		}},
		{"request", "/request/" + querytest.DeniedRequestID, "#waterfall .wf-row", func(t *testing.T) {
			require.Positive(t, b.count(`#hops .deny`), "the deny is marked")
		}},
		{"identities", "/identities?range=24h", "#identities tbody tr", func(t *testing.T) {
			require.Contains(t, b.text("#identities"), querytest.FrontendSPIFFE)
			require.Positive(t, b.count(`#identities a.bad`), "denies link through")
		}},
		{"tls", "/tls?range=24h", "#certificates tbody tr", func(t *testing.T) {
			require.Positive(t, b.count("svg.stacked rect"))
			require.Contains(t, b.text("#handshake-failures"), "unknown-certificate-authority")
		}},
		{"compliance", "/compliance", "#runs tbody tr", func(t *testing.T) {
			require.Positive(t, b.count("#run-now"), "auditors may run reports")
			require.Positive(t, b.count(`#runs a[href$="/report.pdf"]`), "downloads")
			require.Positive(t, b.count(`#controls-soc2 .badge`))
		}},
		// The ledger records real insert times, not the dataset's.
		{"pipeline", "/pipeline?from=" + time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04") + "&to=" +
			time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04"), "#chains tbody tr", func(t *testing.T) {
			require.Equal(t, "continuous", b.text("#continuity"))
		}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			b.t = t
			b.open(p.path, p.wait)
			p.check(t)
			b.screenshot(p.name)
			b.noConsoleErrors(p.name)
		})
	}

	t.Run("laptop", func(t *testing.T) {
		b.t = t
		require.NoError(t, chromedp.Do(b.ctx, chromedp.EmulateViewport(laptopW, laptopH)))
		defer func() { require.NoError(t, chromedp.Do(b.ctx, chromedp.EmulateViewport(desktopW, desktopH))) }()
		b.open("/trace/"+querytest.CheckoutTraceID, "#waterfall")
		// Nothing is wider than the screen.
		require.LessOrEqual(t, eval[int](b, `document.documentElement.scrollWidth`), laptopW)
		b.screenshot("trace-laptop")
		b.open("/search?range=1h", "#traces")
		require.LessOrEqual(t, eval[int](b, `document.documentElement.scrollWidth`), laptopW)
		b.screenshot("search-laptop")
		b.noConsoleErrors("laptop")
	})

	t.Run("search then trace", func(t *testing.T) {
		b.t = t
		b.open("/search?range=1h&service=orders", "#traces tbody tr")
		link := `#traces a[href="/trace/` + querytest.CheckoutTraceID + `"]`
		require.NoError(t, chromedp.Do(b.ctx,
			chromedp.Click(chromedp.CSS(link)),
			chromedp.WaitVisible(chromedp.ID("waterfall")),
		))
		require.Contains(t, b.location(), "/trace/"+querytest.CheckoutTraceID)
		hops := eval[[]string](b, `[...document.querySelectorAll('#hops .hop')].map(e => e.textContent)`)
		require.Equal(t, []string{"nginx", "tap", "app"}, hops)
		rowHops := eval[[]string](b, `[...new Set([...document.querySelectorAll('#waterfall .wf-row')].map(e => e.dataset.hop).filter(Boolean))]`)
		require.Subset(t, rowHops, []string{"nginx", "tap", "app"})
		// The waterfall interleaves the hops in time: nginx's access event
		// comes first, the app's spans after the tap's.
		first := eval[string](b, `document.querySelector('#waterfall .wf-row').dataset.hop`)
		require.Equal(t, "nginx", first)
		// A row opens with the keyboard and shows the span's attributes.
		require.NoError(t, chromedp.Do(b.ctx,
			chromedp.Focus(chromedp.CSS(`#waterfall .wf-row.kind-span.err summary`)),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(`#waterfall .wf-row.kind-span.err[open] table.attrs`)),
		))
		require.Contains(t, b.text(`#waterfall .wf-row.kind-span.err[open] .wf-detail`), querytest.HostileNote)
		b.screenshot("trace-open")
		// The raw events of the request.
		require.NoError(t, chromedp.Do(b.ctx,
			chromedp.Click(chromedp.ID("raw-events")),
			chromedp.WaitVisible(chromedp.CSS("#events tbody tr")),
		))
		require.Equal(t, 3, b.count("#events tbody tr"))
		b.noConsoleErrors("search then trace")
	})

	t.Run("filters round-trip through the URL", func(t *testing.T) {
		b.t = t
		b.open("/search?range=1h", "#f-service")
		require.NoError(t, chromedp.Do(b.ctx,
			chromedp.SendKeys(chromedp.ID("f-service"), "catalog"),
			chromedp.Click(chromedp.ID("f-errors")),
			chromedp.SendKeys(chromedp.CSS(`input[name="attr"]`), "customer.tier=gold"),
			chromedp.Submit(chromedp.ID("f-service")),
			chromedp.WaitVisible(chromedp.CSS("#traces tbody tr")),
		))
		loc, err := url.Parse(b.location())
		require.NoError(t, err)
		q := loc.Query()
		require.Equal(t, "catalog", q.Get("service"))
		require.Equal(t, "1", q.Get("errors"))
		require.Equal(t, []string{"customer.tier=gold"}, q["attr"])
		require.Equal(t, "1h", q.Get("range"))
		require.Empty(t, q.Get("min"), "empty inputs stay out of the URL")
		rows := b.count("#traces tbody tr")
		require.Positive(t, rows)
		require.Equal(t, rows, b.count("#traces tbody tr.err"), "errors only")

		// The URL alone restores the page: a fresh load shows the same
		// filters and results.
		require.NoError(t, chromedp.Do(b.ctx, chromedp.Navigate("about:blank")))
		b.open(loc.RequestURI(), "#traces tbody tr")
		require.Equal(t, "catalog", eval[string](b, `document.getElementById('f-service').value`))
		require.True(t, eval[bool](b, `document.getElementById('f-errors').checked`))
		require.Equal(t, "customer.tier=gold", eval[string](b, `document.querySelector('input[name=attr]').value`))
		require.Equal(t, rows, b.count("#traces tbody tr"))
		b.noConsoleErrors("filters")
	})

	t.Run("absolute time range", func(t *testing.T) {
		b.t = t
		from := querytest.Base.Add(5 * time.Minute).Format("2006-01-02T15:04")
		to := querytest.Base.Add(6 * time.Minute).Format("2006-01-02T15:04")
		b.open("/search?kind=events&from="+from+"&to="+to, "#events tbody tr")
		require.Equal(t, "", eval[string](b, `document.getElementById('tp-range').value`), "custom range")
		require.Equal(t, from, eval[string](b, `document.getElementById('tp-from').value`))
		require.Equal(t, 3, b.count("#events tbody tr"), "the checkout request's three hops")
		b.noConsoleErrors("absolute range")
	})

	t.Run("viewer", func(t *testing.T) {
		b.t = t
		b.logout()
		b.login(uitest.ViewerToken)
		require.Equal(t, "viewer", b.text(".who .role"))
		require.Zero(t, b.count(`header nav a[href="/identities"]`), "audit pages are not offered")
		b.open("/compliance", "#runs")
		require.Zero(t, b.count("#run-now"), "viewers cannot run reports")
		require.Zero(t, b.count(`#runs a[href$="/report.pdf"]`), "nor download them")
		require.Positive(t, b.count("#viewer-note"))
		b.screenshot("compliance-viewer")
		b.noConsoleErrors("viewer")
		b.open("/identities", ".error-page")
		require.Contains(t, b.text(".error-page h1"), "403")
		// The browser logs the 403 itself; nothing else may appear.
		_ = eval[int](b, `1`)
		b.mu.Lock()
		msgs := b.messages
		b.messages = nil
		b.mu.Unlock()
		for _, m := range msgs {
			require.Contains(t, m, "403 (Forbidden)")
		}
	})
}

// TestBrowserEmpty checks the empty states on a store with no data: they
// tell a new user where to send it.
func TestBrowserEmpty(t *testing.T) {
	eng := querytest.OpenEngine(t)
	h := uitest.Start(t, eng, uitest.Options{Compliance: true})
	b := newBrowser(t, h.URL)
	b.login(uitest.AdminToken)
	b.open("/search", ".onboarding")
	txt := b.text(".onboarding")
	for _, want := range []string{"localhost:4317", "http://localhost:4318", "proxy_set_header X-Request-ID $request_id", "tapline proxy"} {
		require.Contains(t, txt, want)
	}
	b.screenshot("search-empty")
	b.open("/search?kind=events", ".onboarding")
	b.open("/pipeline", ".onboarding")
	b.open("/compliance", "h1")
	require.Contains(t, b.text("main"), "No report has run yet")
	b.noConsoleErrors("empty")
}
