package chdb_test

import (
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store/chdb/chdbtest"
)

// TestBatchEveryType inserts rows of every column type the batch encoder
// writes (as Native blocks) and reads them back through ClickHouse: nested
// arrays and maps, NULLs among values, LowCardinality inside and outside
// maps, each in a table of its own so that a type ClickHouse read wrongly
// names itself.
func TestBatchEveryType(t *testing.T) {
	e := chdbtest.Open(t)
	ns := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	str := func(s string) *string { return &s }
	u16 := func(v uint16) *uint16 { return &v }
	tests := []struct {
		typ  string
		rows []any // inserted in order; read back ORDER BY insertion
		want []any // nil: same as rows
	}{
		{"Int8", []any{int8(-128), int8(127)}, nil},
		{"UInt64", []any{uint64(math.MaxUint64), uint64(0)}, nil},
		{"Int128", []any{big.NewInt(-5), new(big.Int).Lsh(big.NewInt(1), 100)}, nil},
		{"Float64", []any{math.Inf(-1), 1.5}, nil},
		{"Bool", []any{true, false}, nil},
		{"String", []any{"", "a\x00b\n\n;'"}, nil},
		{"FixedString(4)", []any{"ab", "abcd"}, []any{"ab\x00\x00", "abcd"}},
		{"LowCardinality(String)", []any{"x", "", "x"}, nil},
		{"LowCardinality(Nullable(String))", []any{nil, "y"}, []any{(*string)(nil), str("y")}},
		{"UUID", []any{"01234567-89ab-cdef-0123-456789abcdef"}, nil},
		{"Date", []any{time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC)}, nil},
		{"DateTime", []any{ns.Truncate(time.Second)}, nil},
		{"DateTime64(9)", []any{ns, time.Unix(0, 0).UTC()}, nil},
		{"DateTime64(9, 'UTC')", []any{ns}, nil},
		{"Enum8('a' = 1, 'b\\'c' = -2)", []any{"b'c", "a"}, nil},
		{"Decimal(9, 2)", []any{"-12.5"}, []any{"-12.50"}},
		{"IPv4", []any{netip.MustParseAddr("192.168.1.2")}, nil},
		{"IPv6", []any{netip.MustParseAddr("::1")}, nil},
		{"Nullable(UInt16)", []any{nil, uint16(7), nil}, []any{(*uint16)(nil), u16(7), (*uint16)(nil)}},
		{"Nullable(String)", []any{"x", nil}, []any{str("x"), (*string)(nil)}},
		{"Array(String)", []any{[]string{"a", "", "\n\n"}, []string{}, []string{"b"}}, nil},
		{"Array(Array(Int32))", []any{[][]int32{{1}, {}, {2, 3}}, [][]int32{}, [][]int32{{4}}}, nil},
		{"Array(Nullable(Int64))", []any{[]*int64{nil, &[]int64{3}[0]}, []*int64{}}, nil},
		{"Array(DateTime64(9))", []any{[]time.Time{ns, ns.Add(time.Nanosecond)}, []time.Time{}}, nil},
		{"Map(LowCardinality(String), String)", []any{map[string]string{"k": "v", "": "\x00"}, map[string]string{}, map[string]string{"k": "w"}}, nil},
		{"Map(String, Array(UInt64))", []any{map[string][]uint64{"a": {1, 2}}, map[string][]uint64{"b": {}}}, nil},
		{"Array(Map(LowCardinality(String), String))", []any{[]map[string]string{{"a": "b"}, {}}, []map[string]string{}}, nil},
		{"Tuple(a String, b Nullable(UInt8))", []any{[]any{"s", nil}, []any{"t", uint8(2)}}, []any{[]any{"s", (*uint8)(nil)}, []any{"t", &[]uint8{2}[0]}}},
		{"Nested(Name LowCardinality(String), Attributes Map(LowCardinality(String), String))",
			[]any{[][]any{{"n", map[string]string{"a": "b"}}, {"m", map[string]string{}}}, [][]any{}}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			table := fmt.Sprintf("types_%d", i)
			require.NoError(t, e.Exec(t.Context(), fmt.Sprintf(
				"CREATE TABLE %s (i UInt32, v %s) ENGINE = MergeTree ORDER BY i SETTINGS flatten_nested = 0", table, tt.typ), nil))
			b, err := e.PrepareBatch(t.Context(), table, []string{"i", "v"})
			require.NoError(t, err)
			for n, v := range tt.rows {
				require.NoError(t, b.Append(uint32(n), v))
			}
			require.NoError(t, b.Send(t.Context()))

			rows, err := e.Query(t.Context(), "SELECT v FROM "+table+" ORDER BY i", nil)
			require.NoError(t, err)
			defer rows.Close()
			var got []any
			for rows.Next() {
				var v any
				require.NoError(t, rows.Scan(&v))
				got = append(got, v)
			}
			require.NoError(t, rows.Err())
			want := tt.want
			if want == nil {
				want = tt.rows
			}
			assert.Equal(t, want, got)
		})
	}
}
