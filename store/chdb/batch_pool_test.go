package chdb

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store/rowbinary"
)

// A sent batch's block is reused by a later batch into the same columns
// even after garbage collections (a sync.Pool would have dropped it), comes
// back empty, and the list is bounded per table and columns.
func TestBlockPoolKeepsBlocksAcrossGC(t *testing.T) {
	typ, err := rowbinary.Parse("String")
	require.NoError(t, err)
	cols := []tableColumn{{name: "s", typ: typ}}
	key := poolKey("t", cols)
	var p blockPool

	b, err := p.get(key, cols)
	require.NoError(t, err)
	require.NoError(t, b.AppendRow([]any{"x"}))
	p.put(key, b)
	runtime.GC()
	runtime.GC()
	got, err := p.get(key, cols)
	require.NoError(t, err)
	require.Same(t, b, got, "the same block")
	require.Zero(t, got.Rows(), "a reused block comes back empty")

	other, err := p.get(poolKey("u", cols), cols)
	require.NoError(t, err)
	require.NotSame(t, b, other, "another table gets a block of its own")

	for range maxPooledBlocks + 2 {
		nb, err := rowbinary.NewNativeBlock([]string{"s"}, []*rowbinary.Type{typ})
		require.NoError(t, err)
		p.put(key, nb)
	}
	require.Len(t, p.free[key], maxPooledBlocks)

	p.forget("t")
	require.Empty(t, p.free[key], "a table's blocks go when its columns may have changed")
}
