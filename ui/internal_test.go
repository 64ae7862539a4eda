package ui

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRange(t *testing.T) {
	now := time.Date(2025, 6, 2, 11, 0, 0, 0, time.UTC)
	cases := []struct {
		q        string
		from, to time.Time
		rel      string
		err      string
	}{
		{q: "", from: now.Add(-time.Hour), to: now, rel: "1h"},
		{q: "range=15m", from: now.Add(-15 * time.Minute), to: now, rel: "15m"},
		{q: "range=7d", from: now.Add(-7 * 24 * time.Hour), to: now, rel: "7d"},
		{q: "from=2025-06-02T10:05&to=2025-06-02T10:06", from: now.Add(-55 * time.Minute), to: now.Add(-54 * time.Minute)},
		{q: "from=2025-06-02T10:05:00Z", from: now.Add(-55 * time.Minute), to: now},
		{q: "range=1h&from=2025-06-01", from: now.Add(-35 * time.Hour), to: now},
		{q: "range=0s", err: "not a duration"},
		{q: "range=-1h", err: "not a duration"},
		{q: "range=xd", err: "not a number of days"},
		{q: "to=2025-06-02T10:00", err: "give a start"},
		{q: "from=yesterday", err: "is not a time"},
		{q: "from=2025-06-02T10:00&to=2025-06-02T10:00", err: "start must be before"},
	}
	for _, tc := range cases {
		t.Run(tc.q, func(t *testing.T) {
			q, err := url.ParseQuery(tc.q)
			require.NoError(t, err)
			tr, err := parseRange(q, now, "1h")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.from, tr.From)
			require.Equal(t, tc.to, tr.To)
			require.Equal(t, tc.rel, tr.Relative)
			// The range written back into a URL reads the same.
			back := url.Values{}
			tr.set(back)
			again, err := parseRange(back, now, "1h")
			require.NoError(t, err)
			require.Equal(t, tr.From.Truncate(time.Minute), again.From.Truncate(time.Minute))
		})
	}
}

func TestFmtDur(t *testing.T) {
	cases := map[time.Duration]string{
		0:                        "0",
		-1:                       "—",
		850:                      "850ns",
		850 * time.Microsecond:   "850µs",
		1500 * time.Microsecond:  "1.50ms",
		12300 * time.Microsecond: "12.3ms",
		250 * time.Millisecond:   "250ms",
		1250 * time.Millisecond:  "1.25s",
		200 * time.Second:        "3m20s",
		26 * time.Hour:           "26h0m0s",
		539 * 24 * time.Hour:     "539 days",
	}
	for d, want := range cases {
		require.Equal(t, want, fmtDur(d), "%d", d)
	}
}

func TestCleanNext(t *testing.T) {
	cases := map[string]string{
		"":                           "/search",
		"/trace/ab?x=1":              "/trace/ab?x=1",
		"//evil.example":             "/search",
		"/\\evil.example":            "/search",
		"https://evil.example/":      "/search",
		"javascript:alert(1)":        "/search",
		"/login?next=/x":             "/search",
		"/search\r\nSet-Cookie: x=1": "/search",
	}
	for in, want := range cases {
		require.Equal(t, want, cleanNext(in), "%q", in)
	}
}

func TestNiceCount(t *testing.T) {
	for n, want := range map[int64]int64{0: 4, 3: 4, 5: 8, 9: 20, 39: 40, 41: 80, 99: 100, 101: 200, 450: 800, 1000: 1000} {
		require.Equal(t, want, niceCount(n), "%d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Default().Validate())
	cases := []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"ttl", func(c *Config) { c.SessionTTL = time.Second }, "session_ttl"},
		{"sessions", func(c *Config) { c.MaxSessions = 0 }, "max_sessions"},
		{"cookie", func(c *Config) { c.SecureCookie = "never" }, "secure_cookie"},
		{"oidc issuer", func(c *Config) { c.OIDC.Issuer = "idp.example" }, "oidc.issuer"},
		{"oidc client", func(c *Config) {
			c.OIDC.Issuer, c.OIDC.RedirectURL = "https://idp.example", "https://tapline.example/auth/callback"
		}, "oidc.client_id"},
		{"oidc redirect", func(c *Config) { c.OIDC.Issuer, c.OIDC.ClientID = "https://idp.example", "tapline" }, "oidc.redirect_url"},
		{"oidc token", func(c *Config) {
			c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.RedirectURL = "https://idp.example", "tapline", "https://t.example/auth/callback"
			c.OIDC.APIToken = "refresh_token"
		}, "oidc.api_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mod(&c)
			err := c.Validate()
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tc.err), "%v", err)
		})
	}
}

func TestScatterEscapes(t *testing.T) {
	at := time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)
	svg := string(scatterSVG(`<script>"x"`, []scatterPoint{{T: at, D: time.Millisecond, Href: `/trace/"><script>`, Label: `<b>`}}, at, at.Add(time.Hour)))
	require.NotContains(t, svg, "<script>")
	require.NotContains(t, svg, "<b>")
	require.Contains(t, svg, "&lt;script&gt;")
}
