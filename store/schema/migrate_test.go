package schema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"26.5.1.1", true},
		{"26.2.1.1", true},
		{"26.1.3.1", false},
		{"25.12.1", false},
		{"27.0.1", true},
		{"30.10", true},
		{"24.8.14.39", false},
		{"", false},
		{"head", false},
	} {
		require.Equal(t, tc.want, versionAtLeast(tc.version, textIndexMinVersion), tc.version)
	}
}

func TestIsTrue(t *testing.T) {
	for s, want := range map[string]bool{"true": true, "1": true, " True ": true, "false": false, "0": false, "": false} {
		require.Equal(t, want, isTrue(s), s)
	}
}

func TestTTLOf(t *testing.T) {
	for _, tc := range []struct{ engineFull, want string }{
		{"MergeTree PARTITION BY toDate(Timestamp) ORDER BY (a, b) TTL toDateTime(Timestamp) + toIntervalDay(30) SETTINGS index_granularity = 8192",
			"toDateTime(Timestamp) + toIntervalDay(30)"},
		{"MergeTree ORDER BY (RunId) TTL toDateTime(Day) + toIntervalDay(400)", "toDateTime(Day) + toIntervalDay(400)"},
		{"MergeTree ORDER BY tuple() SETTINGS ttl_only_drop_parts = 1", ""},
		{"Distributed('c', 'db', 't_local', rand())", ""},
	} {
		require.Equal(t, tc.want, ttlOf(tc.engineFull), tc.engineFull)
	}
}
