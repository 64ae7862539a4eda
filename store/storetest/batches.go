package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
)

// Batch sizes of RandomBatches. Each batch is read back and compared row by
// row, so a lost or changed row names its batch and id.
const (
	randomBatches      = 20
	randomBatchRows    = 10_000
	randomShortBatches = 3
)

type randomRow struct {
	id    uint64
	ts    time.Time
	name  string
	body  string
	attrs map[string]string
	tags  []string
}

// randomString returns a string of random bytes (any of the 256 values),
// sometimes with a "\n\n" or NUL run placed in it.
func randomString(rng *rand.Rand, maxLen int) string {
	b := make([]byte, rng.IntN(maxLen+1))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	if len(b) >= 2 && rng.IntN(4) == 0 {
		i := rng.IntN(len(b) - 1)
		copy(b[i:], []string{"\n\n", "\x00\x00", "\r\n", "';"}[rng.IntN(4)])
	}
	return string(b)
}

func newRandomRow(rng *rand.Rand, id uint64) randomRow {
	r := randomRow{
		id: id,
		// Any nanosecond between 1970 and 2262, the range of DateTime64(9).
		ts:    time.Unix(0, rng.Int64N(1<<63-1)).UTC(),
		name:  randomString(rng, 40),
		body:  randomString(rng, 600),
		attrs: map[string]string{},
		tags:  make([]string, rng.IntN(4)),
	}
	for range rng.IntN(12) {
		r.attrs[randomString(rng, 20)] = randomString(rng, 80)
	}
	for i := range r.tags {
		r.tags[i] = randomString(rng, 30)
	}
	return r
}

// testRandomBatches inserts batches of random rows (random ids and
// timestamps, strings of all byte values) many times and checks that every
// row is stored exactly.
func testRandomBatches(t *testing.T, e store.Engine) {
	table := createTable(t, e, `
		batch UInt32,
		id UInt64,
		ts DateTime64(9),
		name LowCardinality(String),
		body String,
		attrs Map(LowCardinality(String), String),
		tags Array(String)`, "(batch, id)", "")
	batches := randomBatches
	if testing.Short() {
		batches = randomShortBatches
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	first := allBytes()
	for n := range batches {
		want := make([]randomRow, randomBatchRows)
		seen := make(map[uint64]bool, len(want))
		for i := range want {
			id := rng.Uint64()
			for seen[id] {
				id = rng.Uint64()
			}
			seen[id] = true
			want[i] = newRandomRow(rng, id)
		}
		want[0].body = first // every byte value in every batch
		b, err := e.PrepareBatch(t.Context(), table, nil)
		require.NoError(t, err)
		for _, r := range want {
			require.NoError(t, b.Append(uint32(n), r.id, r.ts, r.name, r.body, r.attrs, r.tags))
		}
		require.NoError(t, b.Send(t.Context()), "batch %d (seed %d)", n, seed)
		checkBatch(t, e, table, n, want)
	}
}

// checkBatch reads batch n back in id order and compares every field.
func checkBatch(t *testing.T, e store.Engine, table string, n int, want []randomRow) {
	t.Helper()
	byID := make(map[uint64]randomRow, len(want))
	for _, r := range want {
		byID[r.id] = r
	}
	rows, err := e.Query(t.Context(), "SELECT id, ts, name, body, attrs, tags FROM "+table+
		" WHERE batch = {batch:UInt32} ORDER BY id", store.Params{"batch": uint32(n)})
	require.NoError(t, err)
	defer rows.Close()
	got := 0
	var prev uint64
	for rows.Next() {
		var r randomRow
		require.NoError(t, rows.Scan(&r.id, &r.ts, &r.name, &r.body, &r.attrs, &r.tags))
		w, ok := byID[r.id]
		require.True(t, ok, "batch %d: unexpected id %d", n, r.id)
		require.False(t, got > 0 && r.id <= prev, "batch %d: id %d twice or out of order", n, r.id)
		prev = r.id
		if diff := compareRows(w, r); diff != "" {
			t.Fatalf("batch %d id %d: %s", n, r.id, diff)
		}
		got++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(want), got, "batch %d: rows stored", n)
}

func compareRows(w, g randomRow) string {
	switch {
	case !w.ts.Equal(g.ts):
		return fmt.Sprintf("ts %s, want %s", g.ts.Format(time.RFC3339Nano), w.ts.Format(time.RFC3339Nano))
	case w.name != g.name:
		return fmt.Sprintf("name %q, want %q", g.name, w.name)
	case w.body != g.body:
		return fmt.Sprintf("body %q, want %q", g.body, w.body)
	case len(w.attrs) != len(g.attrs):
		return fmt.Sprintf("%d attrs, want %d", len(g.attrs), len(w.attrs))
	case len(w.tags) != len(g.tags):
		return fmt.Sprintf("%d tags, want %d", len(g.tags), len(w.tags))
	}
	for k, v := range w.attrs {
		if gv, ok := g.attrs[k]; !ok || gv != v {
			return fmt.Sprintf("attrs[%q] = %q (present %v), want %q", k, gv, ok, v)
		}
	}
	for i := range w.tags {
		if w.tags[i] != g.tags[i] {
			return fmt.Sprintf("tags[%d] = %q, want %q", i, g.tags[i], w.tags[i])
		}
	}
	return ""
}
