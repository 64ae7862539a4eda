package schema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
