package queryseed_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/query/queryseed"
)

// TestGenerator: the generated data has the documented shape, stays in its
// window, maps to rows with ingest's mapping without parse notes, and is
// the same for the same seed.
func TestGenerator(t *testing.T) {
	o := queryseed.Options{Requests: 2000, End: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), Window: time.Hour, PerMessage: 300, Seed: 7}
	run := func() (queryseed.Chunk, int) {
		g := queryseed.NewGenerator(o)
		all := queryseed.Chunk{Traces: ptrace.NewTraces(), Events: plog.NewLogs()}
		chunks := 0
		for !g.Done() {
			c := g.Next()
			chunks++
			c.Traces.ResourceSpans().MoveAndAppendTo(all.Traces.ResourceSpans())
			c.Events.ResourceLogs().MoveAndAppendTo(all.Events.ResourceLogs())
			all.Spans += c.Spans
			all.Access += c.Access
			all.TLS += c.TLS
		}
		return all, chunks
	}
	c, chunks := run()
	require.Equal(t, 7, chunks, "2000 requests in messages of 300")
	require.Equal(t, c.Spans, c.Traces.SpanCount())
	// About 3.5 spans and 3 access events per request.
	require.InDelta(t, 3.5, float64(c.Spans)/2000, 0.3)
	require.InDelta(t, 3.0, float64(c.Access)/2000, 0.1)
	require.Positive(t, c.TLS)

	var rows otlprow.Rows
	rows.AppendTraces(c.Traces)
	rows.AppendLogs(c.Events)
	require.Len(t, rows.Spans, c.Spans)
	require.Len(t, rows.Access, c.Access)
	require.Len(t, rows.TLS, c.TLS)
	require.False(t, rows.MinTime.Before(o.End.Add(-o.Window).Add(-time.Second)), "starts in the window (TLS handshakes a little before)")
	require.True(t, rows.MaxTime.Before(o.End.Add(time.Second)), "ends in the window")
	for _, a := range rows.Access {
		require.NotContains(t, a.Attributes, "tapline.parse_error", "event maps cleanly")
		require.Len(t, a.RequestID, 32)
	}

	again, _ := run()
	require.Equal(t, c.Spans, again.Spans)
	require.Equal(t, c.Access, again.Access)
	var rows2 otlprow.Rows
	rows2.AppendTraces(again.Traces)
	require.Equal(t, rows.Spans[0].TraceID, rows2.Spans[0].TraceID, "same seed, same data")
}
