package ui_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/ui"
	"github.com/tapline/tapline/ui/uitest"
)

// client is a browser-like HTTP client: a cookie jar, redirects not
// followed so that tests see them.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // test server
	}}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{resp, string(b)}
}

func (c *client) get(path string, header ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values, header ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	require.Len(t, m, 2, "no csrf field in %s", body)
	return m[1]
}

// login signs in through the form and returns the session's CSRF token.
func (c *client) login(token string) string {
	c.t.Helper()
	page := c.get("/login")
	r := c.post("/login", url.Values{"csrf": {csrfOf(c.t, page.body)}, "token": {token}, "next": {"/compliance"}})
	require.Equal(c.t, http.StatusSeeOther, r.StatusCode, r.body)
	return csrfOf(c.t, c.get("/compliance").body)
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// clock is a settable clock for session expiry.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSecurityHeaders(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }})
	c := newClient(t, h.URL)
	for _, path := range []string{"/login", "/search", "/static/app.css", "/nope"} {
		r := c.get(path)
		csp := r.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "default-src 'none'", path)
		require.Contains(t, csp, "script-src 'self'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "DENY", r.Header.Get("X-Frame-Options"), path)
	}
	// Pages carry no inline script or style, and load nothing from other
	// origins.
	for _, path := range []string{"/search?range=1h", "/search?kind=events&range=1h", "/trace/" + querytest.CheckoutTraceID,
		"/identities", "/tls", "/compliance", "/pipeline"} {
		r := c.get(path, bearer(uitest.AdminToken)...)
		require.Equal(t, http.StatusOK, r.StatusCode, path)
		require.NotRegexp(t, `<script>|<script [^>]*>[^<]|style="|<style|on(click|load|error)=`, r.body, path)
		require.NotRegexp(t, `(src|href)="(https?:)?//`, r.body, path)
	}
}

func TestLogin(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }})
	c := newClient(t, h.URL)

	// Without a session, pages send the browser to sign in, keeping the
	// page to come back to.
	r := c.get("/search?range=6h&service=orders")
	require.Equal(t, http.StatusFound, r.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/search?range=6h&service=orders"), r.Header.Get("Location"))

	page := c.get("/login?next=" + url.QueryEscape("/search?service=orders"))
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, page.body, `<label for="token">API token</label>`)
	csrf := csrfOf(t, page.body)

	cases := []struct {
		name   string
		form   url.Values
		header []string
		code   int
		msg    string
	}{
		{"no csrf", url.Values{"token": {uitest.ViewerToken}}, nil, http.StatusForbidden, "form expired"},
		{"wrong csrf", url.Values{"csrf": {"00"}, "token": {uitest.ViewerToken}}, nil, http.StatusForbidden, "form expired"},
		{"cross origin", url.Values{"csrf": {""}, "token": {uitest.ViewerToken}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden, "form expired"},
		{"empty token", url.Values{"csrf": {""}, "token": {" "}}, nil, http.StatusBadRequest, "Enter an API token"},
		{"bad token", url.Values{"csrf": {""}, "token": {"not-a-token"}}, nil, http.StatusUnauthorized, "not accepted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := tc.form["csrf"]; ok && v[0] == "" {
				tc.form.Set("csrf", csrf) // the current form's token
			}
			r := c.post("/login", tc.form, tc.header...)
			require.Equal(t, tc.code, r.StatusCode, r.body)
			require.Contains(t, r.body, tc.msg)
			require.Nil(t, cookieNamed(r.Response, "tapline_session"))
			csrf = csrfOf(t, r.body) // a failed attempt gets a fresh form
		})
	}

	r = c.post("/login", url.Values{"csrf": {csrf}, "token": {uitest.ViewerToken}, "next": {"/search?service=orders"}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	require.Equal(t, "/search?service=orders", r.Header.Get("Location"))
	ck := cookieNamed(r.Response, "tapline_session")
	require.NotNil(t, ck)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.False(t, ck.Secure, "plain HTTP")
	require.NotContains(t, ck.Value, uitest.ViewerToken, "the cookie is a random id, not the token")

	r = c.get("/search?service=orders")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, r.body, "token:viewer")
	logoutCSRF := csrfOf(t, r.body)

	// Sign out needs the session's CSRF token.
	require.Equal(t, http.StatusForbidden, c.post("/logout", url.Values{"csrf": {csrf}}).StatusCode)
	r = c.post("/logout", url.Values{"csrf": {logoutCSRF}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.Equal(t, http.StatusFound, c.get("/search").StatusCode, "signed out")
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{})
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/login", "/auth/callback"} {
		t.Run(next, func(t *testing.T) {
			c := newClient(t, h.URL)
			page := c.get("/login?next=" + url.QueryEscape(next))
			r := c.post("/login", url.Values{"csrf": {csrfOf(t, page.body)}, "token": {uitest.ViewerToken}, "next": {next}})
			require.Equal(t, http.StatusSeeOther, r.StatusCode)
			require.Equal(t, "/search", r.Header.Get("Location"))
		})
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{})
	srv := h.HTTP
	srv.Close()
	tlsSrv := newTLSServer(t, h)
	c := newClient(t, tlsSrv)
	page := c.get("/login")
	require.True(t, cookieNamed(page.Response, "tapline_login").Secure)
	r := c.post("/login", url.Values{"csrf": {csrfOf(t, page.body)}, "token": {uitest.ViewerToken}})
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
	require.True(t, cookieNamed(r.Response, "tapline_session").Secure)
}

func TestBearerHeader(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }})
	c := newClient(t, h.URL)
	r := c.get("/search?range=1h", bearer(uitest.ViewerToken)...)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, r.body, "token:viewer")
	require.NotContains(t, r.body, `action="/logout"`, "no session to sign out of")

	r = c.get("/search", bearer("wrong")...)
	require.Equal(t, http.StatusUnauthorized, r.StatusCode)
	require.Contains(t, r.body, "invalid token")
	r = c.get("/search", "Authorization", "Basic Zm9vOmJhcg==")
	require.Equal(t, http.StatusUnauthorized, r.StatusCode)

	// Bearer callers are not cookie-authenticated: no CSRF token needed,
	// and the roles apply.
	r = c.post("/compliance/run", url.Values{"framework": {"soc2"}, "from": {"2025-06-01"}, "to": {"2025-06-02"}}, bearer(uitest.ViewerToken)...)
	require.Equal(t, http.StatusForbidden, r.StatusCode)
}

func TestRoles(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }, Compliance: true})
	viewer, auditor := newClient(t, h.URL), newClient(t, h.URL)
	vcsrf := viewer.login(uitest.ViewerToken)
	acsrf := auditor.login(uitest.AuditorToken)

	for _, path := range []string{"/identities", "/tls", "/pipeline"} {
		r := viewer.get(path)
		require.Equal(t, http.StatusForbidden, r.StatusCode, path)
		require.Contains(t, r.body, "needs role auditor", path)
		require.Equal(t, http.StatusOK, auditor.get(path).StatusCode, path)
	}

	comp := viewer.get("/compliance")
	require.Equal(t, http.StatusOK, comp.StatusCode)
	require.NotContains(t, comp.body, `id="run-now"`)
	require.NotContains(t, comp.body, "/report.pdf")
	comp = auditor.get("/compliance")
	require.Contains(t, comp.body, `id="run-now"`)
	link := regexp.MustCompile(`href="(/compliance/runs/[^"]+/report\.pdf)"`).FindStringSubmatch(comp.body)
	require.Len(t, link, 2)

	r := viewer.get(link[1])
	require.Equal(t, http.StatusForbidden, r.StatusCode)
	r = auditor.get(link[1])
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Equal(t, "application/pdf", r.Header.Get("Content-Type"))
	require.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	require.True(t, strings.HasPrefix(r.body, "%PDF"))

	runID := strings.Split(link[1], "/")[3]
	for _, bad := range []string{
		"/compliance/runs/" + runID + "/..%2F..%2Fsigning.key",
		"/compliance/runs/" + runID + "/signing.key",
		"/compliance/runs/..%2F/report.pdf",
		"/compliance/runs/no-such-run/report.pdf",
	} {
		require.Equal(t, http.StatusNotFound, auditor.get(bad).StatusCode, bad)
	}

	form := url.Values{"framework": {"soc2"}, "from": {"2025-06-02"}, "to": {"2025-06-03"}}
	vform := url.Values{"csrf": {vcsrf}}
	for k, v := range form {
		vform[k] = v
	}
	require.Equal(t, http.StatusForbidden, viewer.post("/compliance/run", vform).StatusCode)
	require.Equal(t, http.StatusForbidden, auditor.post("/compliance/run", form).StatusCode, "no csrf")

	bad := url.Values{"csrf": {acsrf}, "framework": {"soc2"}, "from": {"2025-06-03"}, "to": {"2025-06-02"}}
	r = auditor.post("/compliance/run", bad)
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
	bad.Set("framework", "pci")
	bad.Set("from", "2025-06-01")
	require.Equal(t, http.StatusBadRequest, auditor.post("/compliance/run", bad).StatusCode)

	// Run now: the report runs in the background and appears among the runs.
	aform := url.Values{"csrf": {acsrf}}
	for k, v := range form {
		aform[k] = v
	}
	r = auditor.post("/compliance/run", aform)
	require.Equal(t, http.StatusSeeOther, r.StatusCode, r.body)
	started := strings.TrimPrefix(r.Header.Get("Location"), "/compliance?started=")
	require.NotEmpty(t, started)
	require.Eventually(t, func() bool { return h.Reports.Running() == "" }, 2*time.Minute, 100*time.Millisecond)
	runs, err := h.Reports.Runs(context.Background(), 10)
	require.NoError(t, err)
	var found bool
	for _, run := range runs {
		if run.RunID == started {
			found = true
			require.Equal(t, "done", run.Status, run.Error)
		}
	}
	require.True(t, found, "run %s recorded", started)
	require.Contains(t, auditor.get("/compliance").body, started)
}

func TestSessionExpires(t *testing.T) {
	clk := &clock{t: querytest.Now}
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: clk.now, UI: func(c *ui.Config) { c.SessionTTL = time.Hour }})
	c := newClient(t, h.URL)
	c.login(uitest.ViewerToken)
	require.Equal(t, http.StatusOK, c.get("/search").StatusCode)
	clk.add(59 * time.Minute)
	require.Equal(t, http.StatusOK, c.get("/search").StatusCode)
	clk.add(2 * time.Minute)
	r := c.get("/search")
	require.Equal(t, http.StatusFound, r.StatusCode)
	require.Contains(t, r.Header.Get("Location"), "/login")
}

func TestCrossSiteLinkReloads(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{})
	c := newClient(t, h.URL)
	// A shared link opened from another site arrives without the
	// SameSite=Strict cookie: the page reloads itself from this site.
	r := c.get("/trace/abc?x=1", "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, r.body, `http-equiv="refresh"`)
	require.Contains(t, r.body, "/trace/abc?_r=1&amp;x=1")
	r = c.get("/trace/abc?_r=1&x=1", "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusFound, r.StatusCode, "no loop")
}

func TestAnonymousWhenTheAPIAllowsIt(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }, Query: func(c *query.Config) {
		c.Auth.AllowAnonymous = true
	}})
	c := newClient(t, h.URL)
	r := c.get("/search?range=1h")
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, r.body, "anonymous")
	require.Equal(t, http.StatusForbidden, c.get("/identities").StatusCode, "anonymous callers are viewers")
	require.Equal(t, http.StatusSeeOther, c.post("/logout", url.Values{}).StatusCode, "nothing to sign out of")
}

func TestSearchPage(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }})
	c := newClient(t, h.URL)
	auth := bearer(uitest.ViewerToken)

	cases := []struct {
		name, query string
		code        int
		want        []string
	}{
		{"by service", "service=payments&range=1h", 200, []string{"/trace/" + querytest.CheckoutTraceID, `value="payments"`, "charge card"}},
		{"by principal", "principal=" + url.QueryEscape(querytest.Alice) + "&range=1h", 200, []string{"/trace/" + querytest.MeshTraceID}},
		{"attribute filter", "attr=customer.tier%3Dplatinum&range=1h", 200, []string{"/trace/" + querytest.MeshTraceID, `value="customer.tier=platinum"`}},
		{"no match", "service=nobody&range=1h", 200, []string{"No traces match"}},
		{"bad duration", "min=fast&range=1h", 400, []string{"minimum duration: &#34;fast&#34; is not a duration", `value="fast"`}},
		{"bad attribute", "attr=%3Dx&range=1h", 400, []string{"attribute filter"}},
		{"bad range", "range=forever", 400, []string{"time range"}},
		{"end before start", "from=2025-06-02T11:00&to=2025-06-02T10:00", 400, []string{"start must be before the end"}},
		{"events deny", "kind=events&decision=deny&range=1h", 200, []string{"/request/" + querytest.DeniedRequestID, "spiffe-id-not-allowed"}},
		{"events tls none", "kind=events&tls=none&range=1h&source=app", 200, []string{"/request/" + querytest.BackgroundRequestID(29)}},
		{"events bad status", "kind=events&status=6xx&range=1h", 400, []string{"invalid request"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/search?"+tc.query, auth...)
			require.Equal(t, tc.code, r.StatusCode, r.body)
			for _, w := range tc.want {
				require.Contains(t, r.body, w)
			}
		})
	}

	// Pages: the next-page link carries the filters and a cursor.
	r := c.get("/search?range=1h&limit=20", auth...)
	next := regexp.MustCompile(`href="(/search\?[^"]*cursor=[^"]+)" rel="next"`).FindStringSubmatch(r.body)
	require.Len(t, next, 2)
	nextURL := strings.ReplaceAll(next[1], "&amp;", "&")
	require.Contains(t, nextURL, "limit=20")
	page2 := c.get(nextURL, auth...)
	require.Equal(t, http.StatusOK, page2.StatusCode)
	first := regexp.MustCompile(`href="/trace/([0-9a-f]{32})"`).FindAllStringSubmatch(r.body, -1)
	second := regexp.MustCompile(`href="/trace/([0-9a-f]{32})"`).FindAllStringSubmatch(page2.body, -1)
	require.NotEmpty(t, second)
	seen := map[string]bool{}
	for _, m := range first {
		seen[m[1]] = true
	}
	for _, m := range second {
		require.False(t, seen[m[1]], "trace %s on both pages", m[1])
	}
}

func TestTracePage(t *testing.T) {
	h := uitest.Start(t, sharedEngine(t), uitest.Options{Now: func() time.Time { return querytest.Now }})
	c := newClient(t, h.URL)
	auth := bearer(uitest.ViewerToken)
	r := c.get("/trace/"+querytest.CheckoutTraceID, auth...)
	require.Equal(t, http.StatusOK, r.StatusCode)
	// Hops in path order with their badges, data escaped.
	require.Regexp(t, `(?s)hop-nginx.*hop-tap.*hop-app`, r.body)
	require.Contains(t, r.body, querytest.FrontendSPIFFE)
	require.Contains(t, r.body, `it&#39;s &#34;quoted&#34;; DROP TABLE otel_traces; --`)
	require.NotContains(t, r.body, querytest.HostileNote)
	require.Contains(t, r.body, `wf-row kind-span err`)

	r = c.get("/request/"+querytest.CheckoutRequestID, auth...)
	require.Equal(t, http.StatusOK, r.StatusCode)
	require.Contains(t, r.body, "/trace/"+querytest.CheckoutTraceID)

	r = c.get("/trace/"+strings.Repeat("0", 31)+"1", auth...)
	require.Equal(t, http.StatusNotFound, r.StatusCode)
	require.Contains(t, r.body, "not found")
	r = c.get("/trace/not-hex", auth...)
	require.Equal(t, http.StatusBadRequest, r.StatusCode)
}

// TestPageViewsAreRecorded: the UI calls the API with the user's
// credentials, so the API's access record names the user and the page.
func TestPageViewsAreRecorded(t *testing.T) {
	eng := querytest.OpenEngine(t)
	h := uitest.Start(t, eng, uitest.Options{})
	c := newClient(t, h.URL)
	trace := strings.Repeat("ab", 16)
	require.Equal(t, http.StatusNotFound, c.get("/trace/"+trace, bearer(uitest.AuditorToken)...).StatusCode)
	inproc, err := ui.NewInProcess(h.Query)
	require.NoError(t, err)
	defer inproc.Close()
	be := inproc.Backend()
	require.Eventually(t, func() bool {
		ctx := metadataCtx(uitest.AdminToken)
		resp, err := be.Events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{
			Sources: []string{"api"}, PathPrefix: "/trace/" + trace,
		})
		if err != nil || len(resp.GetEvents()) == 0 {
			return false
		}
		e := resp.GetEvents()[0]
		return e.GetIdentity().GetPrincipal() == "token:auditor" && e.GetMethod() == http.MethodGet && e.GetStatus() == http.StatusNotFound
	}, 30*time.Second, 200*time.Millisecond)
}

// The empty search page shows where to send data; with the collector's
// nginx syslog receiver off it says so instead of an nginx line without an
// address.
func TestOnboardingNginxSyslog(t *testing.T) {
	eng := querytest.OpenEngine(t)
	for _, tc := range []struct {
		name      string
		endpoints ui.Endpoints
		want      []string
		notWant   string
	}{
		{"receiver on", ui.Endpoints{OTLPGRPC: "otel.example:4317", OTLPHTTP: "http://otel.example:4318", NginxSyslog: "10.0.0.7:5514", Proxy: "localhost:8443"},
			[]string{"otel.example:4317", "access_log syslog:server=10.0.0.7:5514,tag=nginx tapline;"}, "receiver is off"},
		{"receiver off", ui.Endpoints{OTLPGRPC: "otel.example:4317", OTLPHTTP: "http://otel.example:4318", Proxy: "localhost:8443"},
			[]string{"otel.example:4317", "nginx syslog receiver is off", "collector.nginx_syslog"}, "syslog:server="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := uitest.Start(t, eng, uitest.Options{Endpoints: tc.endpoints})
			r := newClient(t, h.URL).get("/search", bearer(uitest.ViewerToken)...)
			require.Equal(t, 200, r.StatusCode, r.body)
			for _, w := range tc.want {
				require.Contains(t, r.body, w)
			}
			require.NotContains(t, r.body, tc.notWant)
		})
	}
}
