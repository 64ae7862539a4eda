package ingest

import (
	"errors"
	"regexp"
	"time"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config/configtype"
)

// Config is the ingest section of the configuration file. Keys in Validate's
// messages are relative to the section ("batch_size"); the top-level
// configuration reports them under "ingest.".
type Config struct {
	// Stream is the JetStream stream ingest reads: every subject of it.
	Stream string `yaml:"stream"`
	// Consumer is the durable pull consumer's name. Every ingest process
	// that uses the same name shares the work (and the messages) of one
	// consumer.
	Consumer string `yaml:"consumer"`
	// Chain names this process's chain in the ingest ledger. Empty means a
	// new name (host name and a random suffix) at each start. Set it only to
	// a name no other running process uses; a process started with the
	// same name again continues the chain.
	Chain string `yaml:"chain"`
	// BatchSize is the most messages one batch (one fetch, one insert per
	// table) holds.
	BatchSize int `yaml:"batch_size"`
	// BatchMaxBytes is the most message bytes one batch holds. Near full
	// load it decides freshness: at 30k spans/s on two cores, p99
	// freshness was 1.2–2.5 s with 16MiB batches and 1.4–1.6 s with 8MiB,
	// which cost about a sixth of the peak throughput (docs/BENCHMARKS.md,
	// "Pipeline").
	BatchMaxBytes configtype.ByteSize `yaml:"batch_max_bytes"`
	// BatchTimeout is how long a fetch waits for a batch to fill: the
	// longest a message waits before it is inserted when traffic is light.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// MaxAckPending is the consumer's limit on delivered, unacknowledged
	// messages, across all ingest processes.
	MaxAckPending int `yaml:"max_ack_pending"`
	// AckWait is how long JetStream waits for an acknowledgement before it
	// delivers a message again. Ingest sends in-progress acknowledgements
	// while it works on (or retries) a batch, so this only bounds how soon
	// the messages of a crashed process are delivered to another.
	AckWait time.Duration `yaml:"ack_wait"`
	// BackoffInitial and BackoffMax bound the exponential backoff between
	// retries while ClickHouse or NATS fail.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	// LagInterval is how often the consumer's lag is read for the metrics.
	LagInterval time.Duration `yaml:"lag_interval"`
	// CopiesByID writes each span, access event and TLS connection also
	// into its copy sorted by id (migration 0016), which timelines read.
	// Default true. Off, the insert step does 10–33 % more spans per
	// second (it is the otel_traces insert alone) and GetTrace reads the
	// source tables, about three times slower (docs/BENCHMARKS.md, "GetTrace
	// at 10M spans: copies by id").
	CopiesByID bool `yaml:"copies_by_id"`
}

// DefaultConsumer is the name of the durable consumer all ingest processes share.
const DefaultConsumer = "tapline-ingest"

// Default returns the ingest section's defaults: the TAPLINE stream, consumer
// tapline-ingest, batches of up to 1000 messages or 16 MiB (about 25,000
// typical spans) filled for at most 250 ms.
func Default() Config {
	return Config{
		Stream:         bus.StreamName,
		Consumer:       DefaultConsumer,
		BatchSize:      1000,
		BatchMaxBytes:  16 << 20,
		BatchTimeout:   250 * time.Millisecond,
		MaxAckPending:  20000,
		AckWait:        30 * time.Second,
		BackoffInitial: 100 * time.Millisecond,
		BackoffMax:     30 * time.Second,
		LagInterval:    5 * time.Second,
		CopiesByID:     true,
	}
}

// NATS names: letters, digits, '-' and '_' (no '.', '*', '>' or spaces).
var natsNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// chainRE allows host names in chain names.
var chainRE = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,200}$`)

// Validate checks the section and names the offending key.
func (c Config) Validate() error {
	var errs []error
	if !natsNameRE.MatchString(c.Stream) {
		errs = append(errs, configtype.Errorf("stream", "must be letters, digits, '-' or '_', got %q", c.Stream))
	}
	if !natsNameRE.MatchString(c.Consumer) {
		errs = append(errs, configtype.Errorf("consumer", "must be letters, digits, '-' or '_', got %q", c.Consumer))
	}
	if c.Chain != "" && !chainRE.MatchString(c.Chain) {
		errs = append(errs, configtype.Errorf("chain", "must be 1 to 200 letters, digits or '_.:/-', got %q", c.Chain))
	}
	if c.BatchSize <= 0 {
		errs = append(errs, configtype.Errorf("batch_size", "must be > 0, got %d", c.BatchSize))
	}
	if c.BatchMaxBytes < 1<<20 {
		errs = append(errs, configtype.Errorf("batch_max_bytes", "must be at least 1MiB, got %d", int64(c.BatchMaxBytes)))
	}
	if c.BatchTimeout < time.Millisecond {
		errs = append(errs, configtype.Errorf("batch_timeout", "must be at least 1ms, got %s", c.BatchTimeout))
	}
	if c.MaxAckPending < c.BatchSize {
		errs = append(errs, configtype.Errorf("max_ack_pending", "must be at least batch_size (%d), got %d", c.BatchSize, c.MaxAckPending))
	}
	if c.AckWait < time.Second {
		errs = append(errs, configtype.Errorf("ack_wait", "must be at least 1s, got %s", c.AckWait))
	} else if c.BatchTimeout >= c.AckWait {
		errs = append(errs, configtype.Errorf("batch_timeout", "must be shorter than ack_wait (%s), got %s", c.AckWait, c.BatchTimeout))
	}
	if c.BackoffInitial <= 0 {
		errs = append(errs, configtype.Errorf("backoff_initial", "must be > 0, got %s", c.BackoffInitial))
	}
	if c.BackoffMax < c.BackoffInitial {
		errs = append(errs, configtype.Errorf("backoff_max", "must be at least backoff_initial (%s), got %s", c.BackoffInitial, c.BackoffMax))
	}
	if c.LagInterval <= 0 {
		errs = append(errs, configtype.Errorf("lag_interval", "must be > 0, got %s", c.LagInterval))
	}
	return errors.Join(errs...)
}
