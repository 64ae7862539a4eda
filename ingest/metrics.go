package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus metrics of one Ingester, registered on the
// registerer New is given.
type metrics struct {
	messages      *prometheus.CounterVec   // by subject
	rows          *prometheus.CounterVec   // by table
	batches       *prometheus.CounterVec   // by outcome
	batchDuration prometheus.Histogram     // fetched → acknowledged
	stageDuration *prometheus.HistogramVec // by stage
	deadLetters   *prometheus.CounterVec   // by reason
	insertErrors  *prometheus.CounterVec   // by table
	redelivered   prometheus.Counter
	missing       prometheus.Counter
	pending       prometheus.Gauge
	ackPending    prometheus.Gauge
}

// Batch outcomes.
const (
	outcomeInserted = "inserted" // a new batch: ledger row and rows written
	outcomeRedone   = "redone"   // a ledgered batch written again after a redelivery
	outcomeEmpty    = "empty"    // a fetch that returned no messages
)

// Stages of a batch, for the stage duration histogram.
const (
	stageFetch  = "fetch"  // waiting for and receiving messages
	stageDecode = "decode" // protobuf decoding and mapping to rows
	stageBuild  = "build"  // encoding rows into the engine's batches
	stageLedger = "ledger" // ledger lookups and the ledger row
	stageInsert = "insert" // sending the batches to ClickHouse
	stageAck    = "ack"    // acknowledging the messages
)

// Dead-letter reasons (label values; the header carries the details).
const (
	reasonDecode = "decode" // not OTLP protobuf for its subject
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "tapline", "ingest"
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "messages_total",
			Help: "Messages consumed from the stream, by subject.",
		}, []string{"subject"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rows_total",
			Help: "Rows inserted, by table (rows of redone batches included).",
		}, []string{"table"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "batches_total",
			Help: "Batches handled, by outcome: inserted, redone (after a redelivery), empty.",
		}, []string{"outcome"}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "batch_duration_seconds",
			Help:    "Time from a batch's last message received to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "stage_duration_seconds",
			Help:    "Time spent per batch in each stage: fetch, decode, build, ledger, insert, ack.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"stage"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "dead_letters_total",
			Help: "Messages published to the dead-letter subject, by reason.",
		}, []string{"reason"}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "insert_errors_total",
			Help: "Failed inserts (retried), by table.",
		}, []string{"table"}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "redelivered_ledgered_total",
			Help: "Redelivered messages found in the ledger: their batch was written again under its deduplication tokens instead of as new rows.",
		}),
		missing: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "redo_missing_messages_total",
			Help: "Messages of a ledgered batch that were no longer in the stream when the batch was written again.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "consumer_pending",
			Help: "Messages in the stream not yet delivered to ingest (the consumer's NumPending): the lag.",
		}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "consumer_ack_pending",
			Help: "Messages delivered to ingest and not yet acknowledged.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.messages, m.rows, m.batches, m.batchDuration, m.stageDuration, m.deadLetters,
		m.insertErrors, m.redelivered, m.missing, m.pending, m.ackPending,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ingest metrics (one registerer per Ingester): %w", err)
		}
	}
	return m, nil
}
