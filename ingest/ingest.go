package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
)

// Lifecycle states.
const (
	stateNew = iota
	stateStarted
	stateStopped
)

// Ingester moves messages from the stream into ClickHouse: a durable pull
// consumer shared with any other ingest process, batches by size and time,
// one ledger row and one insert per table per batch, then the
// acknowledgements. See the package documentation for why nothing is lost
// or stored twice.
type Ingester struct {
	cfg    Config
	eng    store.Engine
	js     jetstream.JetStream
	logger *slog.Logger
	m      *metrics
	chain  string

	mu       sync.Mutex
	state    int
	started  bool            // Start succeeded: the goroutines run (or ran)
	stopCtx  context.Context // cancelled when Shutdown begins: fetch no more
	stop     context.CancelFunc
	hardCtx  context.Context // cancelled when Shutdown's deadline passes: abandon the batch
	hardStop context.CancelFunc
	runCtx   context.Context // cancelled by hardStop, or when a batch was abandoned
	runStop  context.CancelFunc
	crashed  atomic.Bool   // a test hook simulated a crash: acknowledge nothing more
	done     chan struct{} // closed when the goroutines have returned
	wg       sync.WaitGroup

	// The two stages: run fetches and prepares batches, commitLoop stores
	// and acknowledges them, in order, while the next one is prepared.
	jobs     chan *prepared
	rowsPool chan *otlprow.Rows // two: one batch in each stage

	// Owned by the run goroutine (the prepare stage).
	cons     jetstream.Consumer
	stream   jetstream.Stream
	head     uint64 // the chain's last prepared batch
	headHash string
	mark     uint64 // sequences at or below it are looked up in the ledger
	redone   recentRefs
	traces   ptrace.ProtoUnmarshaler
	logs     plog.ProtoUnmarshaler

	consCreated   atomic.Int64 // the consumer's creation time (UnixNano), seen by the lag poller
	refreshMark   atomic.Bool  // the consumer was re-created: read the watermark again
	hookBeforeAck func(batch uint64) error
}

// New returns an Ingester that reads cfg.Stream through the durable consumer
// cfg.Consumer on js and writes to eng. Metrics are registered on reg (a
// nil reg registers nowhere); a nil logger discards logs.
func New(cfg Config, eng store.Engine, js jetstream.JetStream, reg prometheus.Registerer, logger *slog.Logger) (*Ingester, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if eng == nil || js == nil {
		return nil, errors.New("ingest: engine and jetstream are required")
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	chain := cfg.Chain
	if chain == "" {
		chain, err = newChainName()
		if err != nil {
			return nil, err
		}
	}
	in := &Ingester{
		cfg:    cfg,
		eng:    eng,
		js:     js,
		logger: logger.With("component", "ingest", "chain", chain),
		m:      m,
		chain:  chain,
		done:   make(chan struct{}),
		redone: newRecentRefs(1024),
	}
	in.stopCtx, in.stop = context.WithCancel(context.Background())
	in.hardCtx, in.hardStop = context.WithCancel(context.Background())
	in.runCtx, in.runStop = context.WithCancel(in.hardCtx)
	in.jobs = make(chan *prepared)
	in.rowsPool = make(chan *otlprow.Rows, 2)
	for range 2 {
		in.rowsPool <- &otlprow.Rows{}
	}
	return in, nil
}

// newChainName makes a chain name unique to this process: the host name and
// a random suffix.
func newChainName() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ingest"
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ingest: chain name: %w", err)
	}
	name := host + "-" + hex.EncodeToString(b[:])
	if !chainRE.MatchString(name) {
		name = "ingest-" + hex.EncodeToString(b[:])
	}
	return name, nil
}

// Chain is the name of this Ingester's ledger chain.
func (in *Ingester) Chain() string { return in.chain }

// Start creates or updates the durable consumer and starts consuming in the
// background. It returns once the consumer exists; ClickHouse being
// unavailable does not fail Start (the Ingester waits and retries).
func (in *Ingester) Start(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch in.state {
	case stateStarted:
		return ErrStarted
	case stateStopped:
		return ErrStopped
	}
	stream, err := in.js.Stream(ctx, in.cfg.Stream)
	if err != nil {
		return fmt.Errorf("ingest: stream %s: %w", in.cfg.Stream, err)
	}
	cons, err := in.ensureConsumer(ctx)
	if err != nil {
		return err
	}
	in.stream, in.cons = stream, cons
	in.state, in.started = stateStarted, true
	in.wg.Add(3)
	go in.run()
	go in.commitLoop()
	go in.pollLag()
	go func() {
		in.wg.Wait()
		close(in.done)
	}()
	in.logger.Info("ingest started", "stream", in.cfg.Stream, "consumer", in.cfg.Consumer)
	return nil
}

func (in *Ingester) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := in.js.CreateOrUpdateConsumer(ctx, in.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       in.cfg.Consumer,
		Description:   "Tapline ingest: OTLP into ClickHouse",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       in.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: in.cfg.MaxAckPending,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: consumer %s on %s: %w", in.cfg.Consumer, in.cfg.Stream, err)
	}
	in.consCreated.Store(cons.CachedInfo().Created.UnixNano())
	return cons, nil
}

// Shutdown stops fetching, lets the batch in hand finish (stored and
// acknowledged) and returns. If ctx ends first, the batch is abandoned
// unacknowledged (JetStream delivers it again) and ctx's error is returned.
// Safe before Start and safe to call twice.
func (in *Ingester) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	prev, started := in.state, in.started
	in.state = stateStopped
	in.mu.Unlock()
	in.stop()
	if !started {
		in.hardStop()
		in.runStop()
		return nil
	}
	var err error
	select {
	case <-in.done:
	case <-ctx.Done():
		in.hardStop()
		<-in.done
		err = fmt.Errorf("ingest: shutdown: %w", ctx.Err())
	}
	in.hardStop()
	in.runStop()
	if prev == stateStarted {
		in.logger.Info("ingest stopped")
	}
	return err
}

// run is the prepare stage: fetch a batch, prepare it, hand it to the
// commit stage. It stops fetching when Shutdown begins and hands over the
// batch in hand.
func (in *Ingester) run() {
	defer in.wg.Done()
	defer close(in.jobs)
	if err := in.retry(in.stopCtx, "start", in.initState); err != nil {
		return
	}
	for attempt := 0; in.stopCtx.Err() == nil && in.runCtx.Err() == nil; {
		msgs, err := in.fetch()
		if err != nil {
			attempt++
			in.logRetry("fetch", attempt, err)
			if !in.sleep(in.stopCtx, attempt) {
				return
			}
			continue
		}
		attempt = 0
		if len(msgs) == 0 {
			in.m.batches.WithLabelValues(outcomeEmpty).Inc()
			continue
		}
		p, err := in.prepare(msgs)
		if err != nil {
			in.stopRun(&prepared{msgs: msgs, stopKeepAlive: func() {}}, err)
			return
		}
		select {
		case in.jobs <- p:
		case <-in.runCtx.Done():
			in.abandon(p)
			return
		}
	}
}

// commitLoop is the commit stage: it stores and acknowledges the prepared
// batches in order. After a batch is abandoned it acknowledges nothing more.
func (in *Ingester) commitLoop() {
	defer in.wg.Done()
	for p := range in.jobs {
		if in.runCtx.Err() != nil {
			in.abandon(p)
			continue
		}
		if err := in.commit(p); err != nil {
			in.stopRun(nil, err)
		}
	}
}

// stopRun stops both stages after a batch was abandoned (p, when not nil,
// is negatively acknowledged).
func (in *Ingester) stopRun(p *prepared, err error) {
	if p != nil {
		in.abandon(p)
	}
	if in.runCtx.Err() == nil {
		in.logger.Warn("ingest stopped with a batch unacknowledged; JetStream will deliver it again", "error", err)
	}
	in.runStop()
}

// initState reads what the ledger knows about this chain and the stream.
func (in *Ingester) initState(ctx context.Context) error {
	if err := checkLedgerColumns(ctx, in.eng); err != nil {
		return err
	}
	seq, hash, err := chainHead(ctx, in.eng, in.cfg.Stream, in.chain)
	if err != nil {
		return err
	}
	mark, err := watermark(ctx, in.eng, in.cfg.Stream)
	if err != nil {
		return err
	}
	in.head, in.headHash, in.mark = seq, hash, mark
	return nil
}

// fetch waits up to BatchTimeout for up to BatchSize messages.
//
// The wait is the server's (FetchMaxWait), not a local context: the server
// ends the pull request after the messages it sent, so every message
// delivered for it is received. A local deadline could cut the request while
// messages are in flight, and those would only come back after AckWait.
func (in *Ingester) fetch() ([]jetstream.Msg, error) {
	start := time.Now()
	defer func() { in.m.stageDuration.WithLabelValues(stageFetch).Observe(time.Since(start).Seconds()) }()
	batch, err := in.cons.Fetch(in.cfg.BatchSize, jetstream.FetchMaxWait(in.cfg.BatchTimeout), jetstream.FetchMaxBytes(int(in.cfg.BatchMaxBytes)))
	if err != nil {
		return nil, in.fetchFailed(err)
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	err = batch.Error()
	switch {
	case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, jetstream.ErrNoMessages):
		return msgs, nil
	case errors.Is(err, jetstream.ErrMaxBytesExceeded) && len(msgs) == 0:
		// One message is larger than batch_max_bytes: take it alone.
		return in.fetchOne()
	case len(msgs) > 0:
		return msgs, nil // the messages came; the next fetch reports the error again if it persists
	}
	return nil, in.fetchFailed(err)
}

func (in *Ingester) fetchOne() ([]jetstream.Msg, error) {
	batch, err := in.cons.Fetch(1, jetstream.FetchMaxWait(in.cfg.BatchTimeout))
	if err != nil {
		return nil, in.fetchFailed(err)
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// fetchFailed re-creates a consumer that was deleted and wraps err.
func (in *Ingester) fetchFailed(err error) error {
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		ctx, cancel := context.WithTimeout(in.stopCtx, 10*time.Second)
		defer cancel()
		if cons, cerr := in.ensureConsumer(ctx); cerr == nil {
			in.cons = cons
			// A new consumer delivers everything again: look it all up.
			in.refreshMark.Store(true)
		}
	}
	return fmt.Errorf("fetch: %w", err)
}

// pollLag reads the consumer's pending counts for the lag metrics, and
// notices a consumer that was deleted and created again.
func (in *Ingester) pollLag() {
	defer in.wg.Done()
	t := time.NewTicker(in.cfg.LagInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(in.stopCtx, in.cfg.LagInterval)
		info, err := in.js.Consumer(ctx, in.cfg.Stream, in.cfg.Consumer)
		if err == nil {
			ci := info.CachedInfo()
			in.m.pending.Set(float64(ci.NumPending))
			in.m.ackPending.Set(float64(ci.NumAckPending))
			if created := ci.Created.UnixNano(); in.consCreated.Swap(created) != created {
				in.refreshMark.Store(true)
			}
		}
		cancel()
		select {
		case <-in.stopCtx.Done():
			return
		case <-t.C:
		}
	}
}

// retry runs fn until it succeeds or ctx ends, backing off between attempts.
func (in *Ingester) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(in.runCtx)
		if err == nil {
			if attempt > 1 {
				in.logger.Info("ingest recovered", "step", what, "attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, errAbandoned) {
			return err
		}
		in.logRetry(what, attempt, err)
		if !in.sleep(ctx, attempt) {
			return fmt.Errorf("%w: %s: %w", errAbandoned, what, err)
		}
	}
}

// logRetry logs the first failure of a run of failures and then every
// tenth, so an outage does not flood the log; metrics count them all.
func (in *Ingester) logRetry(what string, attempt int, err error) {
	if attempt == 1 || attempt%10 == 0 {
		in.logger.Warn("ingest retrying", "step", what, "attempt", attempt, "error", err)
	}
}

// sleep waits the backoff for attempt (exponential from BackoffInitial,
// capped at BackoffMax, with ±20% jitter) and reports false if ctx or the
// hard stop ended the wait.
func (in *Ingester) sleep(ctx context.Context, attempt int) bool {
	d := float64(in.cfg.BackoffInitial) * math.Pow(2, float64(min(attempt-1, 30)))
	d = min(d, float64(in.cfg.BackoffMax))
	d *= 0.8 + 0.4*mrand.Float64()
	t := time.NewTimer(time.Duration(d))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-in.runCtx.Done():
		return false
	}
}

// recentRefs remembers the last few batches this process wrote again, so
// that the other redelivered messages of the same batch are acknowledged
// without writing it a third time.
type recentRefs struct {
	set   map[batchRef]bool
	order []batchRef
	max   int
}

func newRecentRefs(n int) recentRefs {
	return recentRefs{set: make(map[batchRef]bool, n), max: n}
}

func (r *recentRefs) has(ref batchRef) bool { return r.set[ref] }

func (r *recentRefs) add(ref batchRef) {
	if r.set[ref] {
		return
	}
	if len(r.order) == r.max {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
	r.set[ref] = true
	r.order = append(r.order, ref)
}
