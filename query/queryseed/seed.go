package queryseed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/store"
)

// Stats count what a seed run wrote.
type Stats struct {
	Requests, Spans, Access, TLS, Messages int
	Elapsed                                time.Duration
}

func (s Stats) String() string {
	rate := float64(s.Spans+s.Access+s.TLS) / max(s.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%d requests: %d spans, %d access events, %d TLS events in %d messages, %s (%.0f rows/s)",
		s.Requests, s.Spans, s.Access, s.TLS, s.Messages, s.Elapsed.Round(time.Second), rate)
}

// maxPending bounds how far publishing runs ahead of ingest, in messages.
const maxPending = 200

// Seed writes o's requests the way production data arrives: it starts an
// embedded JetStream (its files under busDir) and an ingest.Ingester on
// eng, publishes each chunk as OTLP protobuf messages (spans on
// tapline.traces, events on tapline.events), waits until ingest has stored
// everything, and stops both. progress, if not nil, is called after each
// chunk.
func Seed(ctx context.Context, eng store.Engine, o Options, busDir string, logger *slog.Logger, progress func(Stats)) (Stats, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	began := time.Now()
	cfg := bus.Default()
	cfg.Embedded.Listen = "127.0.0.1:0"
	b := bus.New(cfg, busDir, logger)
	if err := b.Start(ctx); err != nil {
		return Stats{}, err
	}
	icfg := ingest.Default()
	icfg.BatchSize = 20
	in, err := ingest.New(icfg, eng, b.JetStream(), prometheus.NewRegistry(), logger)
	if err == nil {
		err = in.Start(ctx)
	}
	if err != nil {
		return Stats{}, errors.Join(err, b.Shutdown(context.WithoutCancel(ctx)))
	}
	st, err := publish(ctx, b.JetStream(), icfg.Consumer, o, progress, began)
	if err == nil {
		err = waitStored(ctx, b.JetStream(), icfg.Consumer, 0)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err = errors.Join(err, in.Shutdown(sctx), b.Shutdown(sctx))
	st.Elapsed = time.Since(began)
	return st, err
}

func publish(ctx context.Context, js jetstream.JetStream, consumer string, o Options, progress func(Stats), began time.Time) (Stats, error) {
	var (
		st  Stats
		tm  ptrace.ProtoMarshaler
		lm  plog.ProtoMarshaler
		gen = NewGenerator(o)
	)
	for !gen.Done() {
		c := gen.Next()
		tb, err := tm.MarshalTraces(c.Traces)
		if err != nil {
			return st, fmt.Errorf("marshal traces: %w", err)
		}
		lb, err := lm.MarshalLogs(c.Events)
		if err != nil {
			return st, fmt.Errorf("marshal events: %w", err)
		}
		for _, m := range []struct {
			subject string
			data    []byte
		}{{bus.SubjectTraces, tb}, {bus.SubjectEvents, lb}} {
			msg := nats.NewMsg(m.subject)
			msg.Data = m.data
			sum := sha256.Sum256(m.data)
			msg.Header.Set(bus.HeaderMsgID, hex.EncodeToString(sum[:16]))
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				return st, fmt.Errorf("publish: %w", err)
			}
			st.Messages++
		}
		st.Requests = min(gen.next, o.Requests)
		st.Spans += c.Spans
		st.Access += c.Access
		st.TLS += c.TLS
		if st.Messages%20 == 0 {
			if err := waitStored(ctx, js, consumer, maxPending); err != nil {
				return st, err
			}
		}
		if progress != nil {
			st.Elapsed = time.Since(began)
			progress(st)
		}
	}
	return st, nil
}

// waitStored waits until at most pending published messages are not yet
// stored (delivered and acknowledged).
func waitStored(ctx context.Context, js jetstream.JetStream, consumer string, pending uint64) error {
	for {
		c, err := js.Consumer(ctx, bus.StreamName, consumer)
		if err == nil {
			ci, err := c.Info(ctx)
			if err == nil && ci.NumPending+uint64(max(ci.NumAckPending, 0)) <= pending {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PrepareLedger adds the ingest ledger's Sequences column that ingest
// records each batch's stream sequences in, where the schema does not have
// it yet (as ingest's own test helper does).
func PrepareLedger(ctx context.Context, eng store.Engine) error {
	err := eng.Exec(ctx, "ALTER TABLE ingest_ledger ADD COLUMN IF NOT EXISTS Sequences Array(UInt64) CODEC(Delta, ZSTD(1))", nil)
	if err != nil {
		return fmt.Errorf("ledger Sequences column: %w", err)
	}
	return nil
}
