package rowbinary

import (
	"encoding/binary"
	"io"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	ns := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	str := "x"
	tests := []struct {
		typ  string
		in   any
		want any // nil: same as in
	}{
		{"Int8", int8(-128), nil},
		{"Int16", int16(math.MinInt16), nil},
		{"Int32", int32(math.MaxInt32), nil},
		{"Int64", int64(math.MinInt64), nil},
		{"UInt8", uint8(255), nil},
		{"UInt16", uint16(65535), nil},
		{"UInt32", uint32(math.MaxUint32), nil},
		{"UInt64", uint64(math.MaxUint64), nil},
		{"UInt64", 42, uint64(42)},
		{"UInt64", 3 * time.Second, uint64(3e9)},
		{"Int128", big.NewInt(-5), nil},
		{"UInt256", new(big.Int).Lsh(big.NewInt(1), 255), nil},
		{"Float32", float32(1.5), nil},
		{"Float64", math.Inf(-1), nil},
		{"Bool", true, nil},
		{"String", "", nil},
		{"String", "a\x00b\n\n;'", nil},
		{"String", []byte{0, 255}, "\x00\xff"},
		{"FixedString(4)", "ab", "ab\x00\x00"},
		{"LowCardinality(String)", "x", nil},
		{"LowCardinality(Nullable(String))", nil, (*string)(nil)},
		{"UUID", "01234567-89ab-cdef-0123-456789abcdef", nil},
		{"Date", time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC), nil},
		{"Date32", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{"DateTime", time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC), nil},
		{"DateTime('Europe/Berlin')", ns.Truncate(time.Second), nil},
		{"DateTime64(9)", ns, nil},
		{"DateTime64(9, 'UTC')", time.Date(1677, 9, 21, 0, 12, 44, 0, time.UTC), nil},
		{"DateTime64(3)", ns, ns.Truncate(time.Millisecond)},
		{"DateTime64(6)", time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC), nil},
		{"Enum8('a' = 1, 'b\\'c' = -2)", "b'c", nil},
		{"Enum16('x' = 1000)", 1000, "x"},
		{"Decimal(9, 2)", "-12.5", "-12.50"},
		{"Decimal64(4)", "0.0001", nil},
		{"Decimal128(3)", 7, "7.000"},
		{"IPv4", netip.MustParseAddr("192.168.1.2"), nil},
		{"IPv6", "::1", netip.MustParseAddr("::1")},
		{"Nullable(UInt8)", &[]uint8{7}[0], nil},
		{"Nullable(String)", "x", &str},
		{"Nullable(String)", (*string)(nil), nil},
		{"Array(String)", []string{"a", "", "\n\n"}, nil},
		{"Array(String)", []string{}, nil},
		{"Array(UInt8)", []byte{1, 2}, []uint8{1, 2}},
		{"Array(Array(Int32))", [][]int32{{1}, {}, {2, 3}}, nil},
		{"Array(DateTime64(9))", []time.Time{ns}, nil},
		{"Array(Nullable(Int64))", []*int64{nil, &[]int64{3}[0]}, nil},
		{"Map(LowCardinality(String), String)", map[string]string{"k": "v", "": "\x00"}, nil},
		{"Map(String, UInt64)", map[string]uint64{"a": 1}, nil},
		{"Map(String, Array(String))", map[string][]string{"a": {"b"}}, nil},
		{"Tuple(a String, b UInt8)", []any{"s", uint8(1)}, nil},
		{"Tuple(String, Nullable(Int8))", []any{"s", nil}, []any{"s", (*int8)(nil)}},
		{"Nested(Name String, Attributes Map(String, String))",
			[][]any{{"n", map[string]string{"a": "b"}}}, nil},
		{"SimpleAggregateFunction(min, DateTime)", ns.Truncate(time.Second), nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			typ, err := Parse(tt.typ)
			require.NoError(t, err)
			b, err := typ.Append(nil, tt.in)
			require.NoError(t, err)
			got, err := typ.Decode(NewBytesDecoder(b))
			require.NoError(t, err)
			want := tt.want
			if want == nil {
				want = tt.in
			}
			assert.Equal(t, want, got)
			assert.Equal(t, typ.GoType(), reflect.TypeOf(got), "decoded value has the documented Go type")
		})
	}
}

func TestAppendRejects(t *testing.T) {
	tests := []struct {
		typ string
		in  any
	}{
		{"UInt8", 256},
		{"UInt64", -1},
		{"Int64", uint64(math.MaxUint64)},
		{"Int8", "1"},
		{"String", 1},
		{"Float32", 0.1},
		{"Float64", int64(1) << 60},
		{"DateTime", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"DateTime64(9)", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Date", "2024-01-01"},
		{"FixedString(2)", "abc"},
		{"Enum8('a' = 1)", "b"},
		{"Enum8('a' = 1)", 2},
		{"UUID", "not-a-uuid"},
		{"IPv4", "::1"},
		{"Decimal(5, 1)", "1.25"},
		{"Decimal(5, 1)", "abc"},
		{"Decimal(3, 0)", "100000000000"},
		{"Array(String)", "x"},
		{"Array(UInt8)", []int{300}},
		{"Map(String, String)", map[string]int{"a": 1}},
		{"Tuple(String, String)", []any{"a"}},
		{"Bool", 1},
		{"UInt128", -1},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			typ, err := Parse(tt.typ)
			require.NoError(t, err)
			_, err = typ.Append(nil, tt.in)
			require.Error(t, err)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, text := range []string{
		"", "Foo", "Array(", "Array(String", "Map(String)", "Nullable(String, String)",
		"DateTime64(10)", "FixedString(0)", "Enum8('a')", "Enum8('a' = 300)", "JSON",
		"Decimal(80, 2)", "Tuple()", "Array(Foo)",
	} {
		t.Run(text, func(t *testing.T) {
			_, err := Parse(text)
			require.Error(t, err)
		})
	}
}

// TestDecoderChunks splits an encoded header and rows into chunks of every
// size from 1 byte and checks the decoded values do not change.
func TestDecoderChunks(t *testing.T) {
	names := []string{"ts", "attrs", "s"}
	typeTexts := []string{"DateTime64(9)", "Map(LowCardinality(String), String)", "String"}
	var data []byte
	data = binary.AppendUvarint(data, uint64(len(names)))
	for _, list := range [][]string{names, typeTexts} {
		for _, s := range list {
			data = binary.AppendUvarint(data, uint64(len(s)))
			data = append(data, s...)
		}
	}
	ts := time.Unix(1700000000, 999999999).UTC()
	row := []any{ts, map[string]string{"key": "value", "k2": "long value with text"}, "tail"}
	for range 3 {
		for i, text := range typeTexts {
			typ, err := Parse(text)
			require.NoError(t, err)
			data, err = typ.Append(data, row[i])
			require.NoError(t, err)
		}
	}
	for size := 1; size <= len(data); size++ {
		rest := data
		d := NewDecoder(func() ([]byte, error) {
			if len(rest) == 0 {
				return nil, io.EOF
			}
			n := min(size, len(rest))
			chunk := rest[:n]
			rest = rest[n:]
			return chunk, nil
		})
		gotNames, types, err := d.Header()
		require.NoError(t, err)
		require.Equal(t, names, gotNames)
		rows := 0
		for {
			more, err := d.More()
			require.NoError(t, err)
			if !more {
				break
			}
			for i, typ := range types {
				v, err := typ.Decode(d)
				require.NoError(t, err, "chunk size %d", size)
				require.Equal(t, row[i], v, "chunk size %d", size)
			}
			rows++
		}
		require.Equal(t, 3, rows)
	}
}

func TestDecoderTruncated(t *testing.T) {
	typ, err := Parse("String")
	require.NoError(t, err)
	b, err := typ.Append(nil, "hello")
	require.NoError(t, err)
	_, err = typ.Decode(NewBytesDecoder(b[:3]))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func FuzzDecode(f *testing.F) {
	f.Add("Map(String, Array(Nullable(String)))", []byte{1, 1, 'k', 2, 0, 1, 'v', 1})
	f.Add("Tuple(DateTime64(9), UUID)", make([]byte, 24))
	f.Fuzz(func(t *testing.T, text string, data []byte) {
		typ, err := Parse(text)
		if err != nil {
			return
		}
		v, err := typ.Decode(NewBytesDecoder(data))
		if err != nil {
			return
		}
		// Whatever decodes must encode again.
		if _, err := typ.Append(nil, v); err != nil {
			t.Fatalf("decoded %#v from %x as %s but cannot encode it: %v", v, data, text, err)
		}
	})
}
