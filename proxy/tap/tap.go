package tap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config/configtype"
)

// Reasons records were dropped (tapline.drop.reason and the metric label).
const (
	DropBufferFull    = "buffer-full"    // the buffer was full: the bus is slow or away
	DropPublishFailed = "publish-failed" // a batch could not be published before shutdown
	DropEncodeFailed  = "encode-failed"  // a batch could not be encoded (a bug)
)

var dropReasons = []string{DropBufferFull, DropPublishFailed, DropEncodeFailed}

// Config sizes the buffer and the batches.
type Config struct {
	// BufferSize is how many records wait for publishing at most; more are
	// dropped and counted.
	BufferSize int `yaml:"buffer_size"`
	// BatchSize is how many records go into one OTLP message at most.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is how long a record waits for a batch to fill.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// PublishTimeout bounds one publish attempt.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// MaxRetryBackoff caps the wait between attempts while the bus is away.
	MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		BufferSize:      16384,
		BatchSize:       512,
		FlushInterval:   200 * time.Millisecond,
		PublishTimeout:  5 * time.Second,
		MaxRetryBackoff: 2 * time.Second,
	}
}

// Validate checks the configuration; keys are relative ("buffer_size").
func (c Config) Validate() error {
	var errs []error
	if c.BufferSize <= 0 {
		errs = append(errs, configtype.Errorf("buffer_size", "must be > 0"))
	}
	if c.BatchSize <= 0 {
		errs = append(errs, configtype.Errorf("batch_size", "must be > 0"))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, configtype.Errorf("flush_interval", "must be > 0"))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, configtype.Errorf("publish_timeout", "must be > 0"))
	}
	if c.MaxRetryBackoff <= 0 {
		errs = append(errs, configtype.Errorf("max_retry_backoff", "must be > 0"))
	}
	return errors.Join(errs...)
}

type item struct {
	access *AccessRecord
	tls    *TLSRecord
}

// Tap buffers records and publishes them in OTLP batches.
type Tap struct {
	cfg    Config
	pub    Publisher
	res    Resource
	logger *slog.Logger
	now    func() time.Time

	// The buffer: records waiting for the publishing goroutine, at most
	// cfg.BufferSize. A mutex-guarded slice rather than a channel, so that
	// recording a request does not wake the publisher: it is woken once a
	// batch is full (wake) or by its flush timer, not once per record.
	mu       sync.Mutex
	queue    []item
	spare    []item // the publisher's last batch, reused as the next queue
	wake     chan struct{}
	instance string
	seq      uint64
	batch    *batch // reused by every flush of records

	pending map[string]*atomic.Int64 // drops not yet reported, by reason

	dropped   *prometheus.CounterVec
	published prometheus.Counter
	pubErrors prometheus.Counter

	startOnce sync.Once
	stopOnce  sync.Once
	started   atomic.Bool
	stop      chan struct{}
	done      chan struct{}
	ctx       context.Context // cancelled when Shutdown's deadline passes
	cancel    context.CancelFunc
}

// New returns a tap publishing through pub. Metrics are registered on reg
// (nil: not registered). Nothing is published before Start.
func New(cfg Config, pub Publisher, res Resource, reg prometheus.Registerer, logger *slog.Logger) (*Tap, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errors.New("tap: nil publisher")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	t := &Tap{
		cfg: cfg, pub: pub, res: res, logger: logger, now: time.Now,
		queue:    make([]item, 0, min(cfg.BufferSize, 4*cfg.BatchSize)),
		wake:     make(chan struct{}, 1),
		instance: hex.EncodeToString(id[:]),
		pending:  map[string]*atomic.Int64{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_proxy_tap_events_dropped_total",
			Help: "Access and TLS events the tap dropped instead of waiting for the bus, by reason.",
		}, []string{"reason"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tapline_proxy_tap_events_published_total",
			Help: "Access, TLS and drop events the bus acknowledged.",
		}),
		pubErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tapline_proxy_tap_publish_errors_total",
			Help: "Failed publish attempts (each is retried).",
		}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for _, r := range dropReasons {
		t.pending[r] = new(atomic.Int64)
		t.dropped.WithLabelValues(r) // export zeros
	}
	if reg != nil {
		buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tapline_proxy_tap_buffered_events",
			Help: "Records waiting in the tap's buffer.",
		}, func() float64 { return float64(t.buffered()) })
		for _, c := range []prometheus.Collector{t.dropped, t.published, t.pubErrors, buffered} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("tap: register metrics: %w", err)
			}
		}
	}
	return t, nil
}

// Start starts the publishing goroutine.
func (t *Tap) Start() {
	t.startOnce.Do(func() {
		t.started.Store(true)
		go t.run()
	})
}

// Shutdown publishes what is buffered and stops. It waits until ctx is done
// at most; what could not be published by then is counted as dropped. Safe
// before Start and more than once.
func (t *Tap) Shutdown(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.stop) })
	if !t.started.Load() {
		t.startOnce.Do(func() { close(t.done) })
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		t.cancel()
		<-t.done
		return fmt.Errorf("tap: flush at shutdown: %w", ctx.Err())
	}
}

// Access records a request. It never blocks.
func (t *Tap) Access(r *AccessRecord) { t.put(item{access: r}) }

// TLS records a connection or a failed handshake. It never blocks.
func (t *Tap) TLS(r *TLSRecord) { t.put(item{tls: r}) }

func (t *Tap) put(it item) {
	t.mu.Lock()
	n := len(t.queue)
	if n >= t.cfg.BufferSize {
		t.mu.Unlock()
		t.drop(DropBufferFull, 1)
		return
	}
	t.queue = append(t.queue, it)
	t.mu.Unlock()
	if n+1 == t.cfg.BatchSize {
		select { // a batch is ready: wake the publisher if it sleeps
		case t.wake <- struct{}{}:
		default:
		}
	}
}

func (t *Tap) buffered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// take moves the oldest records, at most n, from the buffer into dst
// (reused). Taking a batch at a time keeps the bound: at most BufferSize
// records wait, plus the batch being published.
func (t *Tap) take(dst []item, n int) []item {
	clear(dst) // let the records of the last batch be collected
	dst = dst[:0]
	t.mu.Lock()
	k := min(n, len(t.queue))
	dst = append(dst, t.queue[:k]...)
	rest := copy(t.queue, t.queue[k:])
	clear(t.queue[rest:])
	t.queue = t.queue[:rest]
	t.mu.Unlock()
	return dst
}

func (t *Tap) drop(reason string, n int) {
	if n == 0 {
		return
	}
	t.dropped.WithLabelValues(reason).Add(float64(n))
	t.pending[reason].Add(int64(n))
}

func (t *Tap) run() {
	defer close(t.done)
	defer t.cancel()
	timer := time.NewTimer(t.cfg.FlushInterval)
	defer timer.Stop()
	items := make([]item, 0, t.cfg.BatchSize)
	// publishAll publishes what is buffered, a batch at a time, until a
	// batch comes out short.
	publishAll := func() {
		for {
			items = t.take(items, t.cfg.BatchSize)
			if len(items) == 0 {
				t.reportDrops()
				return
			}
			t.flush(items)
			if len(items) < t.cfg.BatchSize {
				return
			}
		}
	}
	for {
		select {
		case <-t.wake:
		case <-timer.C:
		case <-t.stop:
			publishAll()
			if t.buffered() > 0 { // recorded while the last round was published
				publishAll()
			}
			return
		}
		publishAll()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(t.cfg.FlushInterval)
	}
}

// flush publishes one batch of records, then any drops not yet reported.
// Publishing is retried while the bus is away; meanwhile the buffer fills and
// further records are dropped and counted, which is the point: requests
// never wait.
func (t *Tap) flush(items []item) {
	if len(items) > 0 {
		now := t.now()
		if t.batch == nil {
			t.batch = newBatch(t.res)
		}
		b := t.batch
		b.reset()
		for _, it := range items {
			if it.access != nil {
				b.addAccess(it.access, now)
			} else {
				b.addTLS(it.tls, now)
			}
		}
		if t.publishBatch(b, "") {
			t.published.Add(float64(len(items)))
		} else {
			t.drop(DropPublishFailed, len(items))
		}
	}
	t.reportDrops()
}

func (t *Tap) reportDrops() {
	// Called after every batch: the usual case, nothing dropped, allocates
	// nothing (a batch's buffers are large enough to churn the heap).
	var counts map[string]int64
	for _, r := range dropReasons {
		if n := t.pending[r].Swap(0); n > 0 {
			if counts == nil {
				counts = map[string]int64{}
			}
			counts[r] = n
		}
	}
	if len(counts) == 0 {
		return
	}
	now := t.now()
	b := newBatch(t.res)
	for _, r := range dropReasons {
		if n := counts[r]; n > 0 {
			b.addDrop(r, n, now)
		}
	}
	if t.publishBatch(b, "drop") {
		t.published.Add(float64(len(counts)))
		return
	}
	for r, n := range counts { // report them with the next batch
		t.pending[r].Add(n)
	}
}

// publishBatch publishes a batch's logs and spans; it reports false only
// when it gave up (shutdown deadline passed, or the batch cannot be encoded).
func (t *Tap) publishBatch(b *batch, kind string) bool {
	logs, traces, err := b.marshal()
	if err != nil {
		t.logger.Error("tap: encode batch", "err", err)
		t.drop(DropEncodeFailed, b.nLogs)
		return true // counted; do not count again as a publish failure
	}
	t.seq++
	id := t.instance + "-" + strconv.FormatUint(t.seq, 10)
	if kind != "" {
		id += "-" + kind
	}
	ok := true
	if logs != nil {
		ok = t.publish(bus.SubjectEvents, id+"-events", logs)
	}
	if ok && traces != nil {
		ok = t.publish(bus.SubjectTraces, id+"-traces", traces)
	}
	return ok
}

// publish retries until the bus takes the message or the shutdown deadline
// passes. The same msgID on every attempt makes a retry of a publish that
// did reach the stream harmless.
func (t *Tap) publish(subject, msgID string, data []byte) bool {
	backoff := 50 * time.Millisecond
	failing := false
	for {
		ctx, cancel := context.WithTimeout(t.ctx, t.cfg.PublishTimeout)
		err := t.pub.Publish(ctx, subject, msgID, data)
		cancel()
		if err == nil {
			if failing {
				t.logger.Info("tap: publishing again", "subject", subject)
			}
			return true
		}
		t.pubErrors.Inc()
		if !failing {
			t.logger.Warn("tap: publish failed; retrying, new events are dropped while the buffer is full", "subject", subject, "err", err)
			failing = true
		}
		select {
		case <-t.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, t.cfg.MaxRetryBackoff)
	}
}
