package clickhouse

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/stretchr/testify/require"
)

// Values are checked with the chDB engine's rules before clickhouse-go sees
// them, and come out in types clickhouse-go's own columns accept.
func TestBatchCanonical(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("CET", 3600))
	s := "x"
	for _, tc := range []struct {
		typ     string
		in      any
		want    any
		wantErr string
	}{
		{"UInt64", uint64(math.MaxUint64), uint64(math.MaxUint64), ""},
		{"UInt64", 5, uint64(5), ""},
		{"UInt16", int64(443), uint16(443), ""},
		{"UInt64", -1, nil, "out of range"},
		{"UInt8", 256, nil, "out of range"},
		{"UInt64", "1", nil, "cannot use string"},
		{"String", 42, nil, "cannot use int"},
		{"String", []byte("a\x00b"), "a\x00b", ""},
		{"LowCardinality(String)", "lc", "lc", ""},
		{"DateTime64(9)", ts, ts.UTC(), ""},
		{"DateTime64(9)", "2024-01-01", nil, "cannot use string"},
		{"DateTime", ts, ts.UTC().Truncate(time.Second), ""},
		{"Date", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), ""},
		{"Nullable(String)", nil, (*string)(nil), ""},
		{"Nullable(String)", &s, &s, ""},
		{"Nullable(String)", "x", &s, ""},
		{"Enum8('unset' = 0, 'server' = 2)", "server", "server", ""},
		{"Enum8('unset' = 0, 'server' = 2)", "client", nil, "client"},
		{"UUID", "01234567-89ab-cdef-fedc-ba9876543210", "01234567-89ab-cdef-fedc-ba9876543210", ""},
		{"UUID", "not-a-uuid", nil, "UUID"},
		{"Decimal(18, 4)", "12.5", "12.5000", ""},
		{"IPv4", netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.1"), ""},
		{"Array(String)", []string{"a"}, []string{"a"}, ""},
		{"Array(UInt64)", []int{1, 2}, []uint64{1, 2}, ""},
		{"Array(DateTime64(9))", []time.Time{ts}, []time.Time{ts.UTC()}, ""},
		{"Map(LowCardinality(String), String)", map[string]string{"k": "v"}, map[string]string{"k": "v"}, ""},
		{"Map(LowCardinality(String), UInt64)", map[string]int{"k": 1}, map[string]uint64{"k": 1}, ""},
		{"Array(Map(LowCardinality(String), String))", []map[string]string{{"a": "b"}}, []map[string]string{{"a": "b"}}, ""},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			b := newRowChecker("t", []string{"col"}, []string{tc.typ})
			got, err := b.canonical(0, tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			// clickhouse-go's own column takes the canonical value.
			col, err := column.Type(tc.typ).Column("col", &column.ServerContext{Revision: proto.DBMS_TCP_PROTOCOL_VERSION, Timezone: time.UTC})
			require.NoError(t, err)
			require.NoError(t, col.AppendRow(got))
		})
	}
}

// Column types this engine cannot check are passed to clickhouse-go as they are.
func TestBatchUnknownType(t *testing.T) {
	b := newRowChecker("t", []string{"j"}, []string{"JSON"})
	got, err := b.canonical(0, `{"a":1}`)
	require.NoError(t, err)
	require.Equal(t, `{"a":1}`, got)
}
