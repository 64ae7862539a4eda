package query_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/store"
)

// TestPipelineHealthAfterIngest reads the ledger the real ingest wrote and
// the consumer lag of the live stream.
func TestPipelineHealthAfterIngest(t *testing.T) {
	eng := querytest.OpenEngine(t)
	p := querytest.StartPipeline(t, eng)
	d := querytest.Build()
	p.PublishTraces(d.Traces)
	p.PublishEvents(d.Events)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, p.Wait(ctx))

	h := startServer(t, eng, func(_ *query.Config, o *query.Options) {
		o.Lag = query.JetStreamLag{JS: p.Bus.JetStream(), Stream: bus.StreamName}
	})
	now := time.Now()
	health, err := h.pipeline.GetPipelineHealth(withToken(auditorToken), &taplinev1.GetPipelineHealthRequest{
		StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now.Add(time.Hour))})
	require.NoError(t, err)
	require.True(t, health.GetContinuous(), "%v", health)
	require.NotEmpty(t, health.GetChains())
	var messages, spans int64
	for _, c := range health.GetChains() {
		require.Equal(t, bus.StreamName, c.GetStream())
		require.EqualValues(t, 1, c.GetFirstBatchSeq())
		require.EqualValues(t, c.GetLastBatchSeq(), c.GetBatches())
		require.Zero(t, c.GetBatchGaps()+c.GetHashBreaks()+c.GetSequenceOverlaps())
		require.Len(t, c.GetLastHash(), 64)
		require.NotNil(t, c.GetIngestDelay())
		messages += c.GetMessages()
		spans += int64(c.GetRowsByTable()["otel_traces"])
	}
	require.EqualValues(t, d.Traces.ResourceSpans().Len()+d.Events.ResourceLogs().Len(), messages)
	require.EqualValues(t, d.Traces.SpanCount(), spans)
	require.Zero(t, health.GetDeadLetters())

	require.True(t, health.GetLagAvailable())
	require.Empty(t, health.GetLagError())
	require.Len(t, health.GetLag(), 1)
	lag := health.GetLag()[0]
	require.Equal(t, "tapline-ingest", lag.GetConsumer())
	require.Zero(t, lag.GetPending())
	require.Equal(t, lag.GetStreamLastSeq(), lag.GetAckFloorSeq())
	require.EqualValues(t, messages, lag.GetStreamLastSeq())

	// An undecodable message is dead-lettered by ingest and counted.
	p.PublishRaw(bus.SubjectTraces, []byte("not OTLP protobuf \xff\xff"))
	require.NoError(t, p.Wait(ctx))
	health, err = h.pipeline.GetPipelineHealth(withToken(auditorToken), &taplinev1.GetPipelineHealthRequest{
		StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(time.Now().Add(time.Hour))})
	require.NoError(t, err)
	require.EqualValues(t, 1, health.GetDeadLetters())
	require.True(t, health.GetContinuous())
}

// ledgerRow is one crafted ingest_ledger row.
type ledgerRow struct {
	chain            string
	batch, first, to uint64
	prev, hash       string
	at               time.Time
}

// insertLedger writes ledger rows directly: the only way to make a broken
// chain, which the real ingest never writes. This is fault injection.
func insertLedger(t *testing.T, eng store.Engine, rows []ledgerRow) {
	t.Helper()
	ctx := context.Background()
	b, err := eng.PrepareBatch(ctx, "ingest_ledger", []string{"InsertedAt", "Stream", "Consumer", "Chain", "BatchSeq", "FirstSeq", "LastSeq",
		"Messages", "DeadLetters", "RowsByTable", "MinEventTime", "MaxEventTime", "BatchSha256", "PrevHash", "Hash"})
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, b.Append(r.at, bus.StreamName, "tapline-ingest", r.chain, r.batch, r.first, r.to,
			uint32(r.to-r.first+1), uint32(1), map[string]uint64{"otel_traces": 10},
			r.at.Add(-2*time.Second), r.at.Add(-time.Second), querytest.ID(r.hash), r.prev, r.hash))
	}
	require.NoError(t, b.Send(ctx))
}

func TestPipelineHealthFindsBrokenChains(t *testing.T) {
	eng := querytest.OpenEngine(t)
	t0 := querytest.Base
	h := func(s string) string { return querytest.ID(s) }
	insertLedger(t, eng, []ledgerRow{
		// good: 1 → 2 → 3, linked.
		{"good", 1, 1, 10, "", h("g1"), t0},
		{"good", 2, 11, 20, h("g1"), h("g2"), t0.Add(time.Minute)},
		{"good", 3, 21, 30, h("g2"), h("g3"), t0.Add(2 * time.Minute)},
		// bad: batch 3 is missing, batch 4 links to the wrong hash, batch 5
		// overlaps batch 4's sequences.
		{"bad", 1, 31, 40, "", h("b1"), t0},
		{"bad", 2, 41, 50, h("b1"), h("b2"), t0.Add(time.Minute)},
		{"bad", 4, 61, 70, h("not b3"), h("b4"), t0.Add(2 * time.Minute)},
		{"bad", 5, 65, 80, h("b4"), h("b5"), t0.Add(3 * time.Minute)},
	})
	srv := startServer(t, eng)
	auditor := withToken(auditorToken)
	get := func(from time.Time) *taplinev1.PipelineHealth {
		resp, err := srv.pipeline.GetPipelineHealth(auditor, &taplinev1.GetPipelineHealthRequest{
			StartTime: timestamppb.New(from), EndTime: timestamppb.New(t0.Add(time.Hour))})
		require.NoError(t, err)
		return resp
	}
	health := get(t0)
	require.False(t, health.GetContinuous())
	require.EqualValues(t, 7, health.GetDeadLetters())
	require.Len(t, health.GetChains(), 2)
	bad, good := health.GetChains()[0], health.GetChains()[1]
	require.Equal(t, "bad", bad.GetChain())
	require.EqualValues(t, 1, bad.GetBatchGaps())
	require.EqualValues(t, 1, bad.GetHashBreaks())
	require.EqualValues(t, 1, bad.GetSequenceOverlaps())
	require.Equal(t, h("b5"), bad.GetLastHash())
	require.Equal(t, "good", good.GetChain())
	require.Zero(t, good.GetBatchGaps()+good.GetHashBreaks()+good.GetSequenceOverlaps())
	require.EqualValues(t, 3, good.GetBatches())
	require.EqualValues(t, 30, good.GetMessages())
	require.EqualValues(t, 30, good.GetRowsByTable()["otel_traces"])
	require.Equal(t, time.Second, good.GetIngestDelay().AsDuration())

	// A window that starts mid-chain checks the link to the batch before it.
	later := get(t0.Add(90 * time.Second))
	for _, c := range later.GetChains() {
		switch c.GetChain() {
		case "good":
			require.EqualValues(t, 3, c.GetFirstBatchSeq())
			require.Zero(t, c.GetHashBreaks()+c.GetBatchGaps(), "batch 3 links to batch 2")
		case "bad":
			require.EqualValues(t, 4, c.GetFirstBatchSeq())
			require.EqualValues(t, 1, c.GetBatchGaps(), "batch 3 is missing")
		}
	}
	// Without a lag source the report says so.
	require.False(t, health.GetLagAvailable())
}
