package checks

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLongestFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []string
		want []int
	}{
		{"none", nil, []int{}},
		{"no slow check", []string{"peer_identity", "tls_ciphers"}, []int{0, 1}},
		{"slow ones first, longest first", []string{"peer_identity", "revoked_identities", "tls_ciphers", "clock_skew", "private_route_auth"},
			[]int{3, 4, 1, 0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, longestFirst(tc.ids))
		})
	}
}
