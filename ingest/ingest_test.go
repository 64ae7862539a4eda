package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
	"github.com/tapline/tapline/store/chdb/chdbtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = chdbtest.RemoveDir()
		_ = code
	}))
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Default().Validate())
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"batch size", func(c *Config) { c.BatchSize = 0 }, "ingest.batch_size: must be > 0"},
		{"stream", func(c *Config) { c.Stream = "a.b" }, "ingest.stream:"},
		{"consumer", func(c *Config) { c.Consumer = "" }, "ingest.consumer:"},
		{"chain", func(c *Config) { c.Chain = "a b" }, "ingest.chain:"},
		{"max bytes", func(c *Config) { c.BatchMaxBytes = 10 }, "ingest.batch_max_bytes:"},
		{"timeout", func(c *Config) { c.BatchTimeout = 0 }, "ingest.batch_timeout:"},
		{"timeout vs ack wait", func(c *Config) { c.BatchTimeout = c.AckWait }, "ingest.batch_timeout: must be shorter than ack_wait"},
		{"ack pending", func(c *Config) { c.MaxAckPending = c.BatchSize - 1 }, "ingest.max_ack_pending:"},
		{"ack wait", func(c *Config) { c.AckWait = time.Millisecond }, "ingest.ack_wait:"},
		{"backoff", func(c *Config) { c.BackoffInitial = 0 }, "ingest.backoff_initial:"},
		{"backoff max", func(c *Config) { c.BackoffMax = c.BackoffInitial / 2 }, "ingest.backoff_max:"},
		{"lag", func(c *Config) { c.LagInterval = 0 }, "ingest.lag_interval:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.edit(&cfg)
			err := configtype.InSection("ingest", cfg.Validate())
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// env is one test's real parts: ClickHouse, NATS and the config for
// ingesters on them.
type env struct {
	t   *testing.T
	eng store.Engine
	bus *bus.Bus
	pub *ingesttest.Publisher
	cfg Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	eng := ingesttest.Engine(t)
	b := ingesttest.Bus(t)
	cfg := Default()
	cfg.BatchSize = 20
	cfg.BatchTimeout = 50 * time.Millisecond
	cfg.AckWait = time.Second
	cfg.BackoffInitial = 10 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.LagInterval = 50 * time.Millisecond
	return &env{t: t, eng: eng, bus: b, pub: ingesttest.NewPublisher(t, b.JetStream()), cfg: cfg}
}

// start starts an Ingester on its own NATS connection (as another process
// would) and shuts it down when the test ends.
func (e *env) start(eng store.Engine, edit ...func(*Config)) (*Ingester, *prometheus.Registry) {
	e.t.Helper()
	return e.startWithHook(eng, nil, edit...)
}

// startWithHook is start with a hook called before each acknowledgement.
func (e *env) startWithHook(eng store.Engine, hook func(batch uint64) error, edit ...func(*Config)) (*Ingester, *prometheus.Registry) {
	e.t.Helper()
	cfg := e.cfg
	for _, f := range edit {
		f(&cfg)
	}
	reg := prometheus.NewRegistry()
	in, err := New(cfg, eng, ingesttest.Connect(e.t, e.bus), reg, slog.New(slog.NewTextHandler(testWriter{e.t}, nil)))
	require.NoError(e.t, err)
	in.hookBeforeAck = hook
	require.NoError(e.t, in.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(e.t, in.Shutdown(ctx))
	})
	return in, reg
}

// publishSpans publishes spans [first, first+n) in messages of per spans.
func (e *env) publishSpans(first, n, per int) {
	for i := first; i < first+n; i += per {
		e.pub.Traces(ingesttest.Spans(i, min(per, first+n-i)))
	}
}

// waitIdle waits until every message on the stream is delivered and
// acknowledged: after that nothing can be delivered again.
func (e *env) waitIdle() {
	e.t.Helper()
	js := e.bus.JetStream()
	require.Eventually(e.t, func() bool {
		c, err := js.Consumer(context.Background(), bus.StreamName, e.cfg.Consumer)
		if err != nil {
			return false
		}
		ci := c.CachedInfo()
		return ci.NumPending == 0 && ci.NumAckPending == 0
	}, 60*time.Second, 20*time.Millisecond)
}

// requireExactly checks that table holds n rows, each "test.seq" value of
// [0, n) once. attr is the attributes map column of the table.
func (e *env) requireExactly(table, attr string, n int) {
	e.t.Helper()
	rows, err := e.eng.Query(context.Background(),
		"SELECT count(), uniqExact("+attr+"['test.seq']), min(toUInt64("+attr+"['test.seq'])), max(toUInt64("+attr+"['test.seq'])) FROM "+table, nil)
	require.NoError(e.t, err)
	defer rows.Close()
	require.True(e.t, rows.Next())
	var count, uniq, lo, hi uint64
	require.NoError(e.t, rows.Scan(&count, &uniq, &lo, &hi))
	require.Equal(e.t, uint64(n), count, "rows in %s", table)
	require.Equal(e.t, uint64(n), uniq, "distinct test.seq in %s", table)
	require.Equal(e.t, uint64(0), lo)
	require.Equal(e.t, uint64(n-1), hi)
	if c := byid.Of(table); c != nil {
		e.requireCopied(c)
	}
}

// requireCopied checks that a copy by id holds each source row with an id
// once, under that id.
func (e *env) requireCopied(c *byid.Copy) {
	e.t.Helper()
	idExpr := map[*byid.Copy]string{
		byid.Spans:  "TraceId",
		byid.Events: "if(RequestId != '', RequestId, TraceId)",
		byid.TLS:    "ConnectionId",
	}[c]
	source, err := ingesttest.CountWhere(context.Background(), e.eng, c.Source(), idExpr+" != ''")
	require.NoError(e.t, err)
	var copied, distinct uint64
	rows, err := e.eng.Query(context.Background(), "SELECT count(), uniqExact(Row) FROM "+c.Table(), nil)
	require.NoError(e.t, err)
	require.True(e.t, rows.Next())
	require.NoError(e.t, rows.Scan(&copied, &distinct))
	require.NoError(e.t, rows.Close())
	require.NotZero(e.t, source, "rows with ids in %s", c.Source())
	require.Equal(e.t, source, copied, "rows in %s", c.Table())
	require.Equal(e.t, copied, distinct, "distinct rows in %s", c.Table())
	n, err := ingesttest.CountWhere(context.Background(), e.eng, c.Table(),
		"Id NOT IN (SELECT "+idExpr+" FROM "+c.Source()+")")
	require.NoError(e.t, err)
	require.Zero(e.t, n, "rows of %s under an id the source does not have", c.Table())
}

func (e *env) verify() Report {
	e.t.Helper()
	rep, err := VerifyLedger(context.Background(), e.eng, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(e.t, err)
	require.True(e.t, rep.OK(), "ledger report: %+v", rep)
	return rep
}

// testWriter sends an Ingester's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// counter reads a counter or gauge.
func counter(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestIngestAllTables(t *testing.T) {
	e := newEnv(t)
	const spans, logs, events = 1000, 300, 120
	e.publishSpans(0, spans, 50)
	for i := 0; i < logs; i += 100 {
		e.pub.Logs(bus.SubjectLogs, ingesttest.Logs(i, 100))
	}
	for i := 0; i < events; i += 40 {
		e.pub.Logs(bus.SubjectEvents, ingesttest.Events(i, 40))
	}
	in, _ := e.start(e.eng)
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", spans)
	e.requireExactly(otlprow.TableLogs, "LogAttributes", logs)
	e.requireExactly(otlprow.TableAccess, "Attributes", events)
	e.requireExactly(otlprow.TableTLS, "Attributes", events)

	// The mapping as stored: one span and the events in full.
	rows, err := e.eng.Query(context.Background(), `
		SELECT ServiceName, SpanKind, StatusCode, Duration, ScopeName, TraceId, SpanId, ParentSpanId,
		       ResourceAttributes['k8s.pod.name'], SpanAttributes['http.response.status_code'],
		       Events.Name, length(Links.TraceId)
		FROM otel_traces WHERE SpanAttributes['test.seq'] = '9'`, nil)
	require.NoError(t, err)
	require.True(t, rows.Next())
	var (
		service, kind, status, scope, traceID, spanID, parent, pod, code string
		duration                                                         uint64
		eventNames                                                       []string
		links                                                            uint64
	)
	require.NoError(t, rows.Scan(&service, &kind, &status, &duration, &scope, &traceID, &spanID, &parent, &pod, &code, &eventNames, &links))
	require.NoError(t, rows.Close())
	require.Equal(t, "checkout", service)
	require.Equal(t, "Server", kind)
	require.Equal(t, "Unset", status)
	require.Equal(t, uint64(1009_000), duration)
	require.Equal(t, "opentelemetry.instrumentation.fastapi", scope)
	require.Equal(t, "ab000000000000000000000000000002", traceID)
	require.Equal(t, "000000000000000a", spanID)
	require.Equal(t, "0000000000000009", parent)
	require.Equal(t, "checkout-7d9c6b8f4-x2x8q", pod)
	require.Equal(t, "200", code)
	require.Equal(t, []string{"db.query", "cache.miss"}, eventNames)
	require.Equal(t, uint64(0), links)

	n, err := ingesttest.CountWhere(context.Background(), e.eng, otlprow.TableTLS, "Established = false AND Failure = 'unknown-certificate-authority'")
	require.NoError(t, err)
	require.Equal(t, uint64(events/5), n)
	n, err = ingesttest.CountWhere(context.Background(), e.eng, otlprow.TableAccess, "PeerNotAfter = toDateTime('2030-01-01 00:00:00', 'UTC') AND Principal != ''")
	require.NoError(t, err)
	require.Equal(t, uint64(events), n)

	require.Equal(t, float64(spans), counter(t, in.m.rows.WithLabelValues(otlprow.TableTraces)))
	require.Equal(t, float64(events), counter(t, in.m.rows.WithLabelValues(otlprow.TableAccess)))
	rep := e.verify()
	require.Len(t, rep.Streams, 1)
	s := rep.Streams[0]
	require.Equal(t, uint64(spans/50+logs/100+events/40), s.Messages)
	require.Equal(t, map[string]uint64{
		otlprow.TableTraces: spans, otlprow.TableLogs: logs, otlprow.TableAccess: events, otlprow.TableTLS: events,
	}, s.RowsByTable)
	require.Equal(t, uint64(1), s.FirstSeq)
	require.Len(t, s.Chains, 1)
	require.Equal(t, in.Chain(), s.Chains[0].Chain)
	require.Equal(t, uint64(1), s.Chains[0].FirstBatch)
}

// TestCopiesByIDOff: with ingest.copies_by_id off, the source tables get
// every row and the copies none (timelines then read the source tables).
func TestCopiesByIDOff(t *testing.T) {
	e := newEnv(t)
	const spans, events = 200, 40
	e.publishSpans(0, spans, 50)
	e.pub.Logs(bus.SubjectEvents, ingesttest.Events(0, events))
	e.start(e.eng, func(c *Config) { c.CopiesByID = false })
	e.waitIdle()
	require.Equal(t, uint64(spans), ingesttest.Count(t, e.eng, otlprow.TableTraces))
	require.Equal(t, uint64(events), ingesttest.Count(t, e.eng, otlprow.TableAccess))
	require.Equal(t, uint64(events), ingesttest.Count(t, e.eng, otlprow.TableTLS))
	for _, c := range byid.All {
		require.Zero(t, ingesttest.Count(t, e.eng, c.Table()), c.Table())
	}
	e.verify()
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	js := ingesttest.Connect(t, e.bus)
	ctx := context.Background()

	// Shutdown before Start, and twice.
	in, err := New(e.cfg, e.eng, js, nil, nil)
	require.NoError(t, err)
	require.NoError(t, in.Shutdown(ctx))
	require.NoError(t, in.Shutdown(ctx))
	require.ErrorIs(t, in.Start(ctx), ErrStopped)

	// Start and stop twice over, with data flowing.
	for round := 0; round < 2; round++ {
		reg := prometheus.NewRegistry()
		in, err := New(e.cfg, e.eng, js, reg, nil)
		require.NoError(t, err)
		require.NoError(t, in.Start(ctx))
		require.ErrorIs(t, in.Start(ctx), ErrStarted)
		e.publishSpans(round*100, 100, 25)
		e.waitIdle()
		require.NoError(t, in.Shutdown(ctx))
		require.NoError(t, in.Shutdown(ctx))
		// One registerer per Ingester: registering twice is an error.
		_, err = New(e.cfg, e.eng, js, reg, nil)
		require.Error(t, err)
	}
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", 200)
	rep := e.verify()
	require.Len(t, rep.Streams[0].Chains, 2, "a new chain per start")

	_, err = New(Config{}, e.eng, js, nil, nil)
	require.ErrorContains(t, err, "batch_size")
}

// TestKillMidStream stops an ingester without letting it finish (its
// shutdown deadline has passed), in the middle of a stream, and starts
// another: every span is stored exactly once.
func TestKillMidStream(t *testing.T) {
	e := newEnv(t)
	const n = 3000
	e.publishSpans(0, n, 10)
	first, _ := e.start(e.eng, func(c *Config) { c.BatchSize = 7 })
	require.Eventually(t, func() bool {
		return ingesttest.Count(t, e.eng, otlprow.TableTraces) >= n/4
	}, 60*time.Second, 5*time.Millisecond)
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, first.Shutdown(expired), context.Canceled)
	require.Less(t, ingesttest.Count(t, e.eng, otlprow.TableTraces), uint64(n), "stopped mid-stream")

	e.start(e.eng)
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", n)
	e.verify()
}

// TestAckLostAfterInsert stores a batch and then crashes before
// acknowledging it; the next ingester receives the batch again and must
// recognise it.
func TestAckLostAfterInsert(t *testing.T) {
	e := newEnv(t)
	const n = 400
	e.publishSpans(0, n, 10)
	crashed := make(chan struct{})
	e.startWithHook(e.eng, func(batch uint64) error {
		if batch == 3 {
			close(crashed)
			return errors.New("simulated crash after the insert, before the acknowledgement")
		}
		return nil
	}, func(c *Config) { c.BatchSize = 5 })
	<-crashed
	stored := ingesttest.Count(t, e.eng, otlprow.TableTraces)
	require.Equal(t, uint64(3*5*10), stored, "three batches of five messages stored, none acknowledged last")

	second, _ := e.start(e.eng)
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", n)
	require.GreaterOrEqual(t, counter(t, second.m.redelivered), float64(5), "the crashed batch came back")
	require.GreaterOrEqual(t, counter(t, second.m.batches.WithLabelValues(outcomeRedone)), float64(1))
	e.verify()
}

// failAfterSend is an engine whose inserts into one table report an error
// after they succeeded, a given number of times: the reply of a committed
// insert lost on the way. chDB runs in-process, so this fault cannot be
// caused for real here; the wrapper changes nothing but the returned error.
type failAfterSend struct {
	store.Engine
	table string
	left  atomic.Int32
}

func (f *failAfterSend) PrepareBatch(ctx context.Context, table string, cols []string, opts ...store.BatchOption) (store.Batch, error) {
	b, err := f.Engine.PrepareBatch(ctx, table, cols, opts...)
	if err != nil || table != f.table {
		return b, err
	}
	return &lossyBatch{Batch: b, f: f}, nil
}

type lossyBatch struct {
	store.Batch
	f *failAfterSend
}

func (b *lossyBatch) Send(ctx context.Context) error {
	if err := b.Batch.Send(ctx); err != nil {
		return err
	}
	if b.f.left.Add(-1) >= 0 {
		return errors.New("connection reset (reply lost after the insert committed)")
	}
	return nil
}

func TestInsertReplyLost(t *testing.T) {
	for _, table := range []string{otlprow.TableTraces, ledgerTable} {
		t.Run(table, func(t *testing.T) {
			e := newEnv(t)
			const n = 500
			e.publishSpans(0, n, 10)
			eng := &failAfterSend{Engine: e.eng, table: table}
			eng.left.Store(3)
			in, _ := e.start(eng)
			e.waitIdle()
			e.requireExactly(otlprow.TableTraces, "SpanAttributes", n)
			require.Equal(t, float64(3), counter(t, in.m.insertErrors.WithLabelValues(table)))
			e.verify()
		})
	}
}

// TestClickHouseUnavailable detaches otel_traces while spans arrive: inserts
// fail, the lag shows, nothing is acknowledged; after the table is attached
// again every span is stored once.
func TestClickHouseUnavailable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in, _ := e.start(e.eng)
	e.publishSpans(0, 100, 10)
	e.waitIdle()
	require.NoError(t, e.eng.Exec(ctx, "DETACH TABLE otel_traces", nil))

	const n = 1000
	e.publishSpans(100, n-100, 10)
	require.Eventually(t, func() bool {
		return counter(t, in.m.insertErrors.WithLabelValues(otlprow.TableTraces)) >= 3 &&
			counter(t, in.m.pending) > 0 && counter(t, in.m.ackPending) > 0
	}, 30*time.Second, 10*time.Millisecond, "inserts fail and the lag is reported")

	require.NoError(t, e.eng.Exec(ctx, "ATTACH TABLE otel_traces", nil))
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", n)
	require.Eventually(t, func() bool { return counter(t, in.m.pending) == 0 }, 10*time.Second, 10*time.Millisecond)
	e.verify()
}

// TestPoisonMessage puts bytes that are not OTLP on the stream between good
// messages: they are dead-lettered with the reason and where they came
// from, and everything else is stored.
func TestPoisonMessage(t *testing.T) {
	e := newEnv(t)
	js := e.bus.JetStream()
	ctx := context.Background()
	dlq, err := js.OrderedConsumer(ctx, bus.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.SubjectDLQ}})
	require.NoError(t, err)

	e.publishSpans(0, 100, 10)
	garbage := []byte("\xff\xfe this is not protobuf")
	poisonSeq := e.pub.Raw(bus.SubjectTraces, garbage)
	e.publishSpans(100, 100, 10)
	e.pub.Raw(bus.SubjectEvents, []byte{0x0a, 0xff}) // a truncated field
	e.publishSpans(200, 100, 10)

	in, _ := e.start(e.eng)
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", 300)
	require.Equal(t, float64(2), counter(t, in.m.deadLetters.WithLabelValues(reasonDecode)))

	msg, err := dlq.Next(jetstream.FetchMaxWait(10 * time.Second))
	require.NoError(t, err)
	require.Equal(t, garbage, msg.Data())
	require.Equal(t, bus.SubjectTraces, msg.Headers().Get(bus.HeaderDLQSubject))
	require.Equal(t, strconv.FormatUint(poisonSeq, 10), msg.Headers().Get(bus.HeaderDLQSequence))
	require.Contains(t, msg.Headers().Get(bus.HeaderDLQReason), "not an OTLP ExportTraceServiceRequest")
	msg, err = dlq.Next(jetstream.FetchMaxWait(10 * time.Second))
	require.NoError(t, err)
	require.Equal(t, bus.SubjectEvents, msg.Headers().Get(bus.HeaderDLQSubject))

	rep := e.verify()
	s := rep.Streams[0]
	require.Equal(t, uint64(2), s.DeadLetters)
	// 32 published messages and the two dead-letter copies, all in the ledger.
	require.Equal(t, uint64(34), s.Messages)
}

// TestTwoIngesters runs two ingesters on one durable consumer: the work is
// shared (JetStream hands out messages round-robin, so their batches
// interleave), one of them crashes after storing a batch and before
// acknowledging it, and the other stores what is left: every span once,
// both chains verify.
func TestTwoIngesters(t *testing.T) {
	e := newEnv(t)
	crashed := make(chan struct{})
	a, _ := e.startWithHook(e.eng, func(batch uint64) error {
		if batch == 10 {
			close(crashed)
			return errors.New("simulated crash after the insert, before the acknowledgement")
		}
		return nil
	}, func(c *Config) { c.BatchSize = 5 })
	b, _ := e.start(e.eng, func(c *Config) { c.BatchSize = 5 })
	const n = 1000
	e.publishSpans(0, n, 5)
	<-crashed
	e.waitIdle()
	e.requireExactly(otlprow.TableTraces, "SpanAttributes", n)
	require.Positive(t, counter(t, a.m.rows.WithLabelValues(otlprow.TableTraces)))
	require.Positive(t, counter(t, b.m.rows.WithLabelValues(otlprow.TableTraces)))
	require.Positive(t, counter(t, b.m.redelivered), "b received a's unacknowledged batch")
	rep := e.verify()
	require.Len(t, rep.Streams[0].Chains, 2)
	require.Equal(t, uint64(n/5), rep.Streams[0].Messages)
	require.Empty(t, rep.Streams[0].Gaps)
}

// TestVerifyLedgerFindsTampering changes and removes ledger rows and checks
// that VerifyLedger reports each change.
func TestVerifyLedgerFindsTampering(t *testing.T) {
	e := newEnv(t)
	e.start(e.eng, func(c *Config) { c.BatchSize = 2 })
	e.publishSpans(0, 100, 10)
	e.waitIdle()
	rep := e.verify()
	require.GreaterOrEqual(t, rep.Streams[0].Chains[0].Batches, uint64(4))
	ctx := context.Background()
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)

	require.NoError(t, e.eng.Exec(ctx, "ALTER TABLE ingest_ledger UPDATE DeadLetters = 7 WHERE BatchSeq = 2 SETTINGS mutations_sync = 2", nil))
	rep, err := VerifyLedger(ctx, e.eng, from, to)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Equal(t, []ChainBreak{{2, "Hash does not match the row's contents"}}, rep.Streams[0].Chains[0].Breaks)

	require.NoError(t, e.eng.Exec(ctx, "ALTER TABLE ingest_ledger DELETE WHERE BatchSeq = 3 SETTINGS mutations_sync = 2", nil))
	rep, err = VerifyLedger(ctx, e.eng, from, to)
	require.NoError(t, err)
	s := rep.Streams[0]
	require.Contains(t, s.Chains[0].Breaks, ChainBreak{4, "batches 3 to 3 are missing"})
	require.Len(t, s.Gaps, 1, "batch 3's sequences are held by no row")
	require.Equal(t, uint64(2), s.GapMessages)

	// A period that starts after batch 3: batch 4's predecessor is missing.
	rows, err := e.eng.Query(ctx, "SELECT InsertedAt FROM ingest_ledger WHERE BatchSeq = 4", nil)
	require.NoError(t, err)
	require.True(t, rows.Next())
	var at time.Time
	require.NoError(t, rows.Scan(&at))
	require.NoError(t, rows.Close())
	rep, err = VerifyLedger(ctx, e.eng, at, to)
	require.NoError(t, err)
	require.Contains(t, rep.Streams[0].Chains[0].Breaks, ChainBreak{4, "batch 3, before it, is not in the ledger"})

	// A forged copy of batch 5 under another chain name: its sequences are
	// now held twice, and the copy's hash does not match its contents.
	require.NoError(t, e.eng.Exec(ctx, "INSERT INTO ingest_ledger SELECT * REPLACE ('forged' AS Chain) FROM ingest_ledger WHERE BatchSeq = 5", nil))
	rep, err = VerifyLedger(ctx, e.eng, from, to)
	require.NoError(t, err)
	s = rep.Streams[0]
	require.Len(t, s.Chains, 2)
	require.Equal(t, uint64(2), s.DuplicateCount)
	require.Len(t, s.Duplicates, 2)
	forged := s.Chains[0]
	if forged.Chain != "forged" {
		forged = s.Chains[1]
	}
	require.Contains(t, forged.Breaks, ChainBreak{5, "Hash does not match the row's contents"})
	require.Contains(t, forged.Breaks, ChainBreak{5, "batch 4, before it, is not in the ledger"})
}

// TestChainContinues restarts an ingester with a configured chain name:
// its batches continue the chain.
func TestChainContinues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		e.cfg.Chain = "ingest-a"
		in, err := New(e.cfg, e.eng, ingesttest.Connect(t, e.bus), nil, nil)
		require.NoError(t, err)
		require.NoError(t, in.Start(ctx))
		e.publishSpans(round*50, 50, 10)
		e.waitIdle()
		require.NoError(t, in.Shutdown(ctx))
	}
	rep := e.verify()
	require.Len(t, rep.Streams[0].Chains, 1)
	c := rep.Streams[0].Chains[0]
	require.Equal(t, "ingest-a", c.Chain)
	require.Equal(t, uint64(1), c.FirstBatch)
	require.Equal(t, c.Batches, c.LastBatch)
}
