package natsexporter

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Names of the exporter's own metrics, reported through the collector's
// meter provider (the collector's /metrics, or Tapline's).
const (
	MetricPublishedMessages = "tapline_natsexporter_published_messages"
	MetricPublishedItems    = "tapline_natsexporter_published_items"
	MetricPublishedBytes    = "tapline_natsexporter_published_bytes"
	MetricDuplicates        = "tapline_natsexporter_duplicate_messages"
	MetricFailedMessages    = "tapline_natsexporter_failed_messages"
	MetricSplitPayloads     = "tapline_natsexporter_split_payloads"
	MetricInFlight          = "tapline_natsexporter_in_flight"
	MetricConnected         = "tapline_natsexporter_connected"
)

// Attribute keys on the exporter's metrics.
const (
	attrSubject = "subject"
	attrReason  = "reason"
)

// Failure reasons on MetricFailedMessages.
const (
	reasonNotConnected = "not_connected"
	reasonTimeout      = "timeout"
	reasonPublish      = "publish"
	reasonRejected     = "rejected"
	reasonOversize     = "oversize"
	reasonMarshal      = "marshal"
)

const meterName = "github.com/tapline/tapline/exporters/natsexporter"

type telemetry struct {
	published  metric.Int64Counter
	items      metric.Int64Counter
	bytes      metric.Int64Counter
	duplicates metric.Int64Counter
	failed     metric.Int64Counter
	split      metric.Int64Counter
	inFlight   metric.Int64UpDownCounter
	connected  metric.Int64ObservableGauge
	base       []attribute.KeyValue
	meter      metric.Meter
}

func newTelemetry(mp metric.MeterProvider, exporterID, signal string) (*telemetry, error) {
	m := mp.Meter(meterName)
	t := telemetry{meter: m}
	var errs [8]error
	t.published, errs[0] = m.Int64Counter(MetricPublishedMessages,
		metric.WithDescription("Messages acknowledged by JetStream (PubAck received), duplicates included."),
		metric.WithUnit("{message}"))
	t.items, errs[1] = m.Int64Counter(MetricPublishedItems,
		metric.WithDescription("Spans or log records in messages acknowledged by JetStream."),
		metric.WithUnit("{item}"))
	t.bytes, errs[2] = m.Int64Counter(MetricPublishedBytes,
		metric.WithDescription("Payload bytes of messages acknowledged by JetStream."),
		metric.WithUnit("By"))
	t.duplicates, errs[3] = m.Int64Counter(MetricDuplicates,
		metric.WithDescription("Acknowledged messages JetStream recognised as duplicates by Nats-Msg-Id and did not store again."),
		metric.WithUnit("{message}"))
	t.failed, errs[4] = m.Int64Counter(MetricFailedMessages,
		metric.WithDescription("Messages not acknowledged by JetStream, by reason."),
		metric.WithUnit("{message}"))
	t.split, errs[5] = m.Int64Counter(MetricSplitPayloads,
		metric.WithDescription("Payloads larger than the maximum message size, split into several messages."),
		metric.WithUnit("{payload}"))
	t.inFlight, errs[6] = m.Int64UpDownCounter(MetricInFlight,
		metric.WithDescription("Messages published and awaiting their PubAck."),
		metric.WithUnit("{message}"))
	t.connected, errs[7] = m.Int64ObservableGauge(MetricConnected,
		metric.WithDescription("1 while the exporter is connected to NATS, else 0."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("create natsexporter metrics: %w", err)
	}
	t.base = []attribute.KeyValue{attribute.String("exporter", exporterID), attribute.String("signal", signal)}
	return &t, nil
}

// observeConnected reports connected() on MetricConnected until the
// returned registration is unregistered.
func (t *telemetry) observeConnected(connected func() bool) (metric.Registration, error) {
	opt := metric.WithAttributes(t.base...)
	return t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		v := int64(0)
		if connected() {
			v = 1
		}
		o.ObserveInt64(t.connected, v, opt)
		return nil
	}, t.connected)
}

func (t *telemetry) attrs(subject string, more ...attribute.KeyValue) metric.MeasurementOption {
	kv := make([]attribute.KeyValue, 0, len(t.base)+1+len(more))
	kv = append(kv, t.base...)
	kv = append(kv, attribute.String(attrSubject, subject))
	kv = append(kv, more...)
	return metric.WithAttributes(kv...)
}

func (t *telemetry) recordPublished(ctx context.Context, m *message, duplicate bool) {
	opt := t.attrs(m.subject)
	t.published.Add(ctx, 1, opt)
	t.items.Add(ctx, int64(m.items), opt)
	t.bytes.Add(ctx, int64(len(m.data)), opt)
	if duplicate {
		t.duplicates.Add(ctx, 1, opt)
	}
}

func (t *telemetry) recordFailed(ctx context.Context, subject, reason string, n int) {
	if n <= 0 {
		return
	}
	t.failed.Add(ctx, int64(n), t.attrs(subject, attribute.String(attrReason, reason)))
}
