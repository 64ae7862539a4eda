package rowbinary

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStripLowCardinality(t *testing.T) {
	tests := map[string]string{
		"String":                                              "String",
		"LowCardinality(String)":                              "String",
		"LowCardinality(Nullable(String))":                    "Nullable(String)",
		"Map(LowCardinality(String), String)":                 "Map(String, String)",
		"Array(Map(LowCardinality(String), String))":          "Array(Map(String, String))",
		"Tuple(a LowCardinality(String), b UInt8)":            "Tuple(a String, b UInt8)",
		"Enum8('LowCardinality(' = 1, 'b\\'' = 2)":            "Enum8('LowCardinality(' = 1, 'b\\'' = 2)",
		"Map(LowCardinality(String), LowCardinality(String))": "Map(String, String)",
	}
	for in, want := range tests {
		assert.Equal(t, want, StripLowCardinality(in), in)
	}
}

// The block's bytes are laid out column by column: counts, then for each
// column its name, type and data (offsets before elements, null map before
// values).
func TestNativeBlockLayout(t *testing.T) {
	b := newTestBlock(t, []string{"s", "a", "n"}, "LowCardinality(String)", "Array(UInt8)", "Nullable(UInt16)")
	require.NoError(t, b.AppendRow([]any{"x", []uint8{1, 2}, nil}))
	require.NoError(t, b.AppendRow([]any{"yz", []uint8{3}, uint16(7)}))

	var want []byte
	str := func(s string) { want = append(append(want, byte(len(s))), s...) }
	want = append(want, 3, 2)
	str("s")
	str("String")
	str("x")
	str("yz")
	str("a")
	str("Array(UInt8)")
	want = binary.LittleEndian.AppendUint64(want, 2)
	want = binary.LittleEndian.AppendUint64(want, 3)
	want = append(want, 1, 2, 3)
	str("n")
	str("Nullable(UInt16)")
	want = append(want, 1, 0)       // null map
	want = append(want, 0, 0, 7, 0) // values, zero where NULL

	var got bytes.Buffer
	n, err := b.WriteTo(&got)
	require.NoError(t, err)
	assert.Equal(t, int64(got.Len()), n)
	assert.Equal(t, want, got.Bytes())
}

// A row with a value that does not fit leaves the block as it was, in
// every column, nested ones included.
func TestNativeBlockRollsBackFailedRow(t *testing.T) {
	b := newTestBlock(t, []string{"m", "a", "u"}, "Map(String, Array(UInt32))", "Array(Nullable(String))", "UInt8")
	good := []any{map[string][]uint32{"k": {1, 2}}, []*string{nil}, uint8(1)}
	require.NoError(t, b.AppendRow(good))
	var before bytes.Buffer
	_, err := b.WriteTo(&before)
	require.NoError(t, err)

	for _, bad := range [][]any{
		{map[string][]uint32{"k": {3}}, []*string{nil}, "not a number"},
		{map[string][]uint32{"k": {3}}, []any{"x", 5}, uint8(1)},
		{map[string]any{"k": []uint32{1}, "j": "x"}, []*string{nil}, uint8(1)},
		{good[0], good[1]},
	} {
		require.Error(t, b.AppendRow(bad))
		var after bytes.Buffer
		_, err = b.WriteTo(&after)
		require.NoError(t, err)
		require.Equal(t, before.Bytes(), after.Bytes())
		require.Equal(t, 1, b.Rows())
	}

	// The next good row continues the offsets where the first ended.
	require.NoError(t, b.AppendRow(good))
	assert.Equal(t, 2, b.Rows())
	b.Reset()
	assert.Zero(t, b.Rows())
	assert.Zero(t, b.Size())
}

func TestNativeBlockRejectsNothing(t *testing.T) {
	typ, err := Parse("Nullable(Nothing)")
	require.NoError(t, err)
	_, err = NewNativeBlock([]string{"x"}, []*Type{typ})
	require.ErrorContains(t, err, "column x")
}

// newTestBlock returns an empty block of the named columns of the given types.
func newTestBlock(t *testing.T, names []string, types ...string) *NativeBlock {
	t.Helper()
	var parsed []*Type
	for _, s := range types {
		typ, err := Parse(s)
		require.NoError(t, err)
		parsed = append(parsed, typ)
	}
	b, err := NewNativeBlock(names, parsed)
	require.NoError(t, err)
	return b
}
