package clickhouse

import (
	"bytes"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store/rowbinary"
)

// The Go type this engine decodes each ClickHouse type to is the one the
// chDB engine's RowBinary decoder uses, so both engines return the same
// types for the same query.
func TestGoTypeMatchesRowBinary(t *testing.T) {
	for _, text := range []string{
		"String", "FixedString(16)", "LowCardinality(String)", "UInt8", "UInt16", "UInt32", "UInt64",
		"Int8", "Int16", "Int32", "Int64", "Int128", "UInt256", "Float32", "Float64", "Bool",
		"UUID", "Date", "Date32", "DateTime", "DateTime('UTC')", "DateTime64(9)", "DateTime64(3, 'UTC')",
		"Enum8('a' = 1, 'b' = 2)", "Enum16('x, y' = 1000)", "Decimal(18, 4)", "Decimal32(2)",
		"IPv4", "IPv6", "Nullable(String)", "Nullable(DateTime64(9))", "LowCardinality(Nullable(String))",
		"Array(String)", "Array(LowCardinality(String))", "Array(DateTime64(9))", "Array(Array(UInt8))",
		"Array(Nullable(Int32))", "Map(LowCardinality(String), String)", "Map(String, UInt64)",
		"Map(String, Array(String))", "Tuple(String, UInt8)", "Tuple(a String, b Array(DateTime))",
		"Array(Tuple(String, UInt64))", "Map(LowCardinality(String), Map(String, String))",
		"SimpleAggregateFunction(min, DateTime64(9))", "Nothing", "Nullable(Nothing)",
	} {
		t.Run(text, func(t *testing.T) {
			ours, err := parseType(text)
			require.NoError(t, err)
			theirs, err := rowbinary.Parse(text)
			if err != nil {
				t.Skipf("rowbinary does not parse %s: %v", text, err)
			}
			require.Equal(t, theirs.GoType(), ours.goType())
		})
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, text := range []string{"Array(String", "Map(String)", "Nullable()", "Decimal(10)", "Decimal32(x)", "Tuple(String, 'a)"} {
		_, err := parseType(text)
		require.Error(t, err, text)
	}
}

func TestSplitTypeArgs(t *testing.T) {
	name, args, err := splitTypeArgs("Enum8('a,b' = 1, 'c)' = 2)")
	require.NoError(t, err)
	require.Equal(t, "Enum8", name)
	require.Equal(t, []string{"'a,b' = 1", "'c)' = 2"}, args)
	name, args, err = splitTypeArgs("Map(LowCardinality(String), Tuple(a String, b UInt8))")
	require.NoError(t, err)
	require.Equal(t, "Map", name)
	require.Equal(t, []string{"LowCardinality(String)", "Tuple(a String, b UInt8)"}, args)
}

// driverValue makes the value clickhouse-go hands out for a column of type
// text holding in: the column is built by clickhouse-go itself, so the test
// sees exactly its types (uuid.UUID, net.IP, decimal.Decimal, ...).
func driverValue(t *testing.T, text string, in any, tz *time.Location) any {
	t.Helper()
	sc := &column.ServerContext{Revision: proto.DBMS_TCP_PROTOCOL_VERSION, Timezone: tz}
	col, err := column.Type(text).Column("c", sc)
	require.NoError(t, err)
	require.NoError(t, col.AppendRow(in))
	// Through the native wire format and back, as rows arrive from a server.
	var buf chproto.Buffer
	if s, ok := col.(column.CustomSerialization); ok {
		require.NoError(t, s.WriteStatePrefix(&buf))
	}
	col.Encode(&buf)
	out, err := column.Type(text).Column("c", sc)
	require.NoError(t, err)
	r := chproto.NewReader(bytes.NewReader(buf.Buf))
	if s, ok := out.(column.CustomSerialization); ok {
		require.NoError(t, s.ReadStatePrefix(r))
	}
	require.NoError(t, out.Decode(r, 1))
	return out.Row(0, false)
}

func TestFromDriver(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	ts := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	str := "x"
	for _, tc := range []struct {
		text string
		in   any // appended through clickhouse-go
		want any // what store.Rows returns
	}{
		{"String", "a\x00b", "a\x00b"},
		{"LowCardinality(String)", "lc", "lc"},
		{"UInt64", uint64(1<<64 - 1), uint64(1<<64 - 1)},
		{"Int8", int8(-5), int8(-5)},
		{"Float64", 1.5, 1.5},
		{"Bool", true, true},
		{"UUID", "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"DateTime64(9)", ts, ts},
		{"DateTime64(9, 'Europe/Berlin')", ts, ts},
		{"DateTime('UTC')", ts.Truncate(time.Second), ts.Truncate(time.Second)},
		{"Date", time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"Decimal(18, 4)", "12.5", "12.5000"},
		{"Decimal(9, 2)", "-0.07", "-0.07"},
		{"IPv4", netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.1.2.3")},
		{"IPv6", netip.MustParseAddr("::ffff:10.1.2.3"), netip.MustParseAddr("::ffff:10.1.2.3")},
		{"IPv6", netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::1")},
		{"Int128", big1, big1},
		{"Enum8('a' = 1, 'b' = 2)", "b", "b"},
		{"Nullable(String)", &str, &str},
		{"Nullable(String)", nil, (*string)(nil)},
		{"Nullable(DateTime64(9))", &ts, &ts},
		{"Array(String)", []string{"a", "b"}, []string{"a", "b"}},
		{"Array(DateTime64(9))", []time.Time{ts}, []time.Time{ts}},
		{"Array(UUID)", []string{"0f8fad5b-d9cb-469f-a165-70867728950e"}, []string{"0f8fad5b-d9cb-469f-a165-70867728950e"}},
		{"Array(Nullable(Int32))", []*int32{nil}, []*int32{nil}},
		{"Map(LowCardinality(String), String)", map[string]string{"k": "v"}, map[string]string{"k": "v"}},
		{"Map(String, Array(IPv4))", map[string][]net.IP{"k": {net.ParseIP("1.2.3.4")}}, map[string][]netip.Addr{"k": {netip.MustParseAddr("1.2.3.4")}}},
		{"Tuple(String, UInt8)", []any{"a", uint8(1)}, []any{"a", uint8(1)}},
		{"Tuple(a String, b DateTime64(9))", []any{"a", ts}, []any{"a", ts}},
		{"Array(Tuple(String, UUID))", [][]any{{"a", "0f8fad5b-d9cb-469f-a165-70867728950e"}}, [][]any{{"a", "0f8fad5b-d9cb-469f-a165-70867728950e"}}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			typ, err := parseType(tc.text)
			require.NoError(t, err)
			got, err := fromDriver(typ, driverValue(t, tc.text, tc.in, berlin))
			require.NoError(t, err)
			if want := typ.goType(); want != nil && got != nil {
				require.Equal(t, want, reflect.TypeOf(got))
			}
			require.Equal(t, tc.want, got)
			if tm, ok := got.(time.Time); ok {
				require.Equal(t, time.UTC, tm.Location())
			}
		})
	}
}

// A Date is the calendar day, whatever the server's time zone.
func TestFromDriverDateKeepsDay(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	typ, err := parseType("Date")
	require.NoError(t, err)
	got, err := fromDriver(typ, time.Date(2026, 1, 2, 0, 0, 0, 0, tokyo))
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), got)
}

func TestFromDriverMismatch(t *testing.T) {
	for _, tc := range []struct {
		text string
		v    any
	}{
		{"String", 5},
		{"DateTime64(9)", "2026-01-01"},
		{"UUID", 7},
		{"Array(String)", "x"},
		{"Map(String, String)", []string{}},
		{"Tuple(String, String)", []any{"only one"}},
		{"IPv4", "1.2.3.4"},
	} {
		typ, err := parseType(tc.text)
		require.NoError(t, err)
		_, err = fromDriver(typ, tc.v)
		require.Error(t, err, tc.text)
		require.Contains(t, err.Error(), tc.text)
	}
}

func TestAssign(t *testing.T) {
	var s string
	require.NoError(t, assign(&s, "v"))
	require.Equal(t, "v", s)
	var a any
	require.NoError(t, assign(&a, uint64(3)))
	require.Equal(t, uint64(3), a)
	var p *string
	require.NoError(t, assign(&p, (*string)(nil)))
	require.Nil(t, p)
	var n int
	require.ErrorContains(t, assign(&n, "v"), "cannot store string in *int")
	require.ErrorContains(t, assign(n, "v"), "not a non-nil pointer")
}
