package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRunServesUI runs `tapline run` and signs in to the web UI on the HTTP
// port with an API token, as a browser would: form, cookie, pages.
func TestRunServesUI(t *testing.T) {
	requireCHDB(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`
query:
  grpc:
    listen: 127.0.0.1:0
  auth:
    tokens:
      - name: ops
        token: ui-token-0123456789abcdef
        role: auditor
`), 0o600))
	// The nginx receiver off: the onboarding card says so (below).
	r := startRun(t, filepath.Join(dir, "data"), "--config", cfgFile, "--set", "collector.nginx_syslog=off")
	r.waitReady(t)
	base := r.url()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(base + path) //nolint:noctx // test
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	// Not signed in: the search page sends the browser to sign in.
	resp, body := get("/search")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/login", resp.Request.URL.Path)
	require.Contains(t, body, "Sign in to Tapline")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")

	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	require.Len(t, csrf, 2)
	resp, err = client.PostForm(base+"/login", url.Values{ //nolint:noctx // test
		"csrf": {csrf[1]}, "token": {"ui-token-0123456789abcdef"}, "next": {"/compliance"},
	})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Equal(t, "/compliance", resp.Request.URL.Path)
	require.Contains(t, string(b), "Run a report now", "auditors get run now; compliance is wired to the store")

	resp, body = get("/search")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "No data here yet", "an empty store shows how to send data")
	require.True(t, strings.Contains(body, "OTLP gRPC") && strings.Contains(body, "proxy_set_header X-Request-ID"))
	require.Contains(t, body, "nginx syslog receiver is off")
	require.NotContains(t, body, "syslog:server=")

	resp, _ = get("/pipeline")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = get("/static/app.css")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r.stop(t)
}
