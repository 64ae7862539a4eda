package chdb

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// A sent batch's buffer is reused by a later batch even after garbage
// collections (a sync.Pool would have dropped it), and the list is bounded.
func TestBufferPoolKeepsBuffersAcrossGC(t *testing.T) {
	var p bufferPool
	require.Nil(t, p.get(), "an empty pool has nothing")

	b := make([]byte, 100, 1<<20)
	p.put(b)
	runtime.GC()
	runtime.GC()
	got := p.get()
	require.Len(t, got, 0, "a reused buffer comes back empty")
	require.Equal(t, cap(b), cap(got))
	require.Same(t, &b[:1][0], &got[:1][0], "the same backing array")

	p.put(make([]byte, 0, maxPooledBuffer+1))
	require.Nil(t, p.get(), "buffers over the limit are not kept")

	for range maxPooledBuffers + 2 {
		p.put(make([]byte, 0, 1024))
	}
	n := 0
	for p.get() != nil {
		n++
	}
	require.Equal(t, maxPooledBuffers, n)
}
