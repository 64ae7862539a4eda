package query

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/store"
)

// ConsumerLag is how far one durable consumer is behind its stream.
type ConsumerLag struct {
	Stream, Consumer string
	// Pending is the number of messages not yet delivered; AckPending the
	// number delivered but not acknowledged.
	Pending, AckPending, Redelivered uint64
	StreamLastSeq, AckFloorSeq       uint64
	LastActive                       time.Time
}

// LagSource reports consumer lag for GetPipelineHealth. The binary provides
// one (JetStreamLag for the bus); without one the report says lag is not
// available.
type LagSource interface {
	ConsumerLag(ctx context.Context) ([]ConsumerLag, error)
}

// JetStreamLag reads the lag of every consumer of a JetStream stream.
type JetStreamLag struct {
	JS     jetstream.JetStream
	Stream string
}

// ConsumerLag implements LagSource.
func (j JetStreamLag) ConsumerLag(ctx context.Context) ([]ConsumerLag, error) {
	stream, err := j.JS.Stream(ctx, j.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", j.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", j.Stream, err)
	}
	lister := stream.ListConsumers(ctx)
	var out []ConsumerLag
	for ci := range lister.Info() {
		l := ConsumerLag{
			Stream:        j.Stream,
			Consumer:      ci.Name,
			Pending:       ci.NumPending,
			AckPending:    uint64(max(ci.NumAckPending, 0)),
			Redelivered:   uint64(max(ci.NumRedelivered, 0)),
			StreamLastSeq: info.State.LastSeq,
			AckFloorSeq:   ci.AckFloor.Stream,
		}
		if ci.Delivered.Last != nil {
			l.LastActive = *ci.Delivered.Last
		}
		out = append(out, l)
	}
	if err := lister.Err(); err != nil {
		return out, fmt.Errorf("list consumers of %s: %w", j.Stream, err)
	}
	return out, nil
}

// GetPipelineHealth implements taplinev1.PipelineServiceServer.
func (p *pipelineServer) GetPipelineHealth(ctx context.Context, req *taplinev1.GetPipelineHealthRequest) (*taplinev1.PipelineHealth, error) {
	s := p.s
	var v violations
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.MetadataWindow, s.now())
	if err := v.err(); err != nil {
		return nil, err
	}
	h := &taplinev1.PipelineHealth{
		StartTime: timestamppb.New(w.start), EndTime: timestamppb.New(w.end),
		Chains: []*taplinev1.LedgerChain{}, Lag: []*taplinev1.ConsumerLag{}, Continuous: true,
	}
	if err := s.ledgerChains(ctx, w, h); err != nil {
		return nil, err
	}
	if s.lag != nil {
		h.LagAvailable = true
		lag, err := s.lag.ConsumerLag(ctx)
		if err != nil {
			h.LagError = err.Error()
		}
		for _, l := range lag {
			h.Lag = append(h.Lag, &taplinev1.ConsumerLag{
				Stream: l.Stream, Consumer: l.Consumer, Pending: l.Pending, AckPending: l.AckPending,
				Redelivered: l.Redelivered, StreamLastSeq: l.StreamLastSeq, AckFloorSeq: l.AckFloorSeq,
				LastActive: ts(l.LastActive),
			})
		}
	}
	return h, nil
}

// ledgerChains checks each ingest chain's batches inserted in the window:
// batch numbers without gaps, each batch's PrevHash equal to the hash of the
// batch before (the one before the window included), stream sequences
// increasing.
func (s *Server) ledgerChains(ctx context.Context, w window, h *taplinev1.PipelineHealth) error {
	st := newStmt()
	sql := `SELECT Stream, Consumer, Chain,
  min(BatchSeq), max(BatchSeq), count(), sum(Messages), sum(DeadLetters),
  sumMap(RowsByTable), min(FirstSeq), max(LastSeq),
  max(InsertedAt), argMax(MaxEventTime, BatchSeq), argMax(InsertedAt, BatchSeq),
  toUInt64(sumIf(BatchSeq - PrevSeq - 1, Rn > 1 AND BatchSeq > PrevSeq + 1)),
  countIf(Rn > 1 AND PrevHash != PrevRowHash),
  countIf(Rn > 1 AND FirstSeq <= PrevLastSeq),
  argMax(Hash, BatchSeq), argMin(PrevHash, BatchSeq)
FROM (
  SELECT *,
    lagInFrame(BatchSeq) OVER w AS PrevSeq,
    lagInFrame(Hash) OVER w AS PrevRowHash,
    lagInFrame(LastSeq) OVER w AS PrevLastSeq,
    row_number() OVER w AS Rn
  FROM ingest_ledger
  WHERE ` + st.inTime("InsertedAt", w) + `
  WINDOW w AS (PARTITION BY Stream, Consumer, Chain ORDER BY BatchSeq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
GROUP BY Stream, Consumer, Chain
ORDER BY Stream, Consumer, Chain`
	firstPrev := map[*taplinev1.LedgerChain]string{}
	err := s.each(ctx, "pipeline health", sql, st.params, func(r store.Rows) error {
		var (
			c                                       taplinev1.LedgerChain
			batches, messages, dead                 uint64
			lastInserted, lastEvent, newestInserted time.Time
			gaps, breaks, overlaps                  uint64
			rows                                    map[string]uint64
			prevOfFirst                             string
		)
		err := r.Scan(&c.Stream, &c.Consumer, &c.Chain, &c.FirstBatchSeq, &c.LastBatchSeq, &batches, &messages, &dead,
			&rows, &c.FirstStreamSeq, &c.LastStreamSeq, &lastInserted, &lastEvent, &newestInserted,
			&gaps, &breaks, &overlaps, &c.LastHash, &prevOfFirst)
		if err != nil {
			return err
		}
		c.Batches, c.Messages, c.DeadLetters = int64(batches), int64(messages), int64(dead)
		c.RowsByTable = rows
		if c.RowsByTable == nil {
			c.RowsByTable = map[string]uint64{}
		}
		c.LastInsertedAt, c.LastEventTime = timestamppb.New(lastInserted), ts(lastEvent)
		if !lastEvent.IsZero() && lastEvent.Unix() != 0 {
			c.IngestDelay = durationpb.New(newestInserted.Sub(lastEvent))
		}
		c.BatchGaps, c.HashBreaks, c.SequenceOverlaps = int64(gaps), int64(breaks), int64(overlaps)
		h.Chains = append(h.Chains, &c)
		firstPrev[&c] = prevOfFirst
		return nil
	})
	if err != nil {
		return err
	}
	// The first batch of each chain in the window links to a batch before
	// it: check that link too.
	for _, c := range h.Chains {
		if c.FirstBatchSeq > 1 {
			st := newStmt()
			sql := "SELECT Hash FROM ingest_ledger WHERE Stream = " + st.str(c.Stream) + " AND Consumer = " + st.str(c.Consumer) +
				" AND Chain = " + st.str(c.Chain) + " AND BatchSeq = " + st.u64(c.FirstBatchSeq-1) + " LIMIT 1"
			var prev string
			found := false
			err := s.each(ctx, "pipeline health", sql, st.params, func(r store.Rows) error {
				found = true
				return r.Scan(&prev)
			})
			if err != nil {
				return err
			}
			switch {
			case !found:
				c.BatchGaps++
			case prev != firstPrev[c]:
				c.HashBreaks++
			}
		}
		h.DeadLetters += c.DeadLetters
		if c.BatchGaps > 0 || c.HashBreaks > 0 || c.SequenceOverlaps > 0 {
			h.Continuous = false
		}
	}
	return nil
}
