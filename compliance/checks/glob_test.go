package checks

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGlobs(t *testing.T) {
	for _, tc := range []struct {
		glob, s string
		want    bool
	}{
		{"/admin/*", "/admin/reindex", true},
		{"/admin/*", "/administrator", false},
		{"/healthz", "/healthz", true},
		{"/healthz", "/healthz/x", false},
		{"spiffe://example.org/ns/*/sa/*", "spiffe://example.org/ns/shop/sa/cart", true},
		{"a.b", "axb", false}, // dots are literal
		{"*", "", true},
		{"", "anything", true},
	} {
		require.Equal(t, tc.want, globMatch(tc.glob, tc.s), "globMatch %q %q", tc.glob, tc.s)
		if tc.glob != "" {
			re := regexp.MustCompile(globRegexp([]string{tc.glob}))
			require.Equal(t, tc.want, re.MatchString(tc.s), "globRegexp %q %q", tc.glob, tc.s)
		}
	}
	none := regexp.MustCompile(globRegexp(nil))
	require.False(t, none.MatchString(""))
	require.False(t, none.MatchString("/x"))
	flows := regexp.MustCompile(flowRegexp([]Flow{{From: "spiffe://e/ns/edge/*", To: "orders"}}))
	require.True(t, flows.MatchString("spiffe://e/ns/edge/sa/nginx\torders"))
	require.False(t, flows.MatchString("spiffe://e/ns/edge/sa/nginx\tpayments"))
}
