package natsexporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tapline/tapline/bus"
)

// headerReserve is kept free of the server's max_payload for the message
// headers (Nats-Msg-Id and the HPUB framing).
const headerReserve = 256

// message is one NATS message of an export, ready to publish.
type message struct {
	subject string
	data    []byte
	items   int
	id      string
}

func newMessage(subject string, data []byte, items int) *message {
	return &message{subject: subject, data: data, items: items, id: msgID(subject, data)}
}

// msgID is the Nats-Msg-Id of a message: the SHA-256 of its subject and
// bytes. Content, not a random id, so that every retry of the same data is
// recognised: exporterhelper's retry calls the push again with the same
// pdata, and an OTLP client's retry of the same request is unmarshalled and
// marshalled again into the same bytes (pdata's protobuf encoding is
// deterministic), split at the same places. The price: two identical payloads
// sent within the stream's duplicate window are stored once, which for
// telemetry (same ids, same timestamps) is what deduplication means anyway.
func msgID(subject string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

type natsExporter struct {
	cfg    *Config
	id     string
	logger *zap.Logger
	tel    *telemetry
	events map[string]struct{}

	mu       sync.Mutex
	nc       *nats.Conn
	js       jetstream.JetStream
	started  bool
	stopped  bool
	stop     chan struct{}
	loopDone chan struct{}
	gauge    metric.Registration
}

func newExporter(cfg *Config, set exporter.Settings, signal string) (*natsExporter, error) {
	tel, err := newTelemetry(set.MeterProvider, set.ID.String(), signal)
	if err != nil {
		return nil, err
	}
	events := make(map[string]struct{}, len(cfg.EventNames))
	if cfg.Subjects.Events != "" {
		for _, n := range cfg.EventNames {
			events[n] = struct{}{}
		}
	}
	return &natsExporter{
		cfg:    cfg,
		id:     set.ID.String(),
		logger: set.Logger,
		tel:    tel,
		events: events,
		stop:   make(chan struct{}),
	}, nil
}

// start prepares the connection options and connects in the background, so
// that the collector starts, and keeps serving, while NATS is down.
func (e *natsExporter) start(ctx context.Context, _ component.Host) error {
	opts, err := e.natsOptions(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.stopped {
		return nil
	}
	e.started = true
	reg, err := e.tel.observeConnected(e.connected)
	if err != nil {
		return fmt.Errorf("natsexporter metrics: %w", err)
	}
	e.gauge = reg
	e.loopDone = make(chan struct{})
	go e.connectLoop(opts)
	return nil
}

// connected reports whether the exporter can publish right now.
func (e *natsExporter) connected() bool {
	e.mu.Lock()
	nc := e.nc
	e.mu.Unlock()
	return nc != nil && nc.IsConnected()
}

func (e *natsExporter) natsOptions(ctx context.Context) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("tapline natsexporter " + e.id),
		nats.Timeout(e.cfg.ConnectTimeout),
		nats.ReconnectWait(e.cfg.ReconnectWait),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		// No client-side buffering while disconnected: a publish must fail
		// at once so the OTLP client gets UNAVAILABLE and keeps the data.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				e.logger.Warn("Disconnected from NATS", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.logger.Info("Reconnected to NATS", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			e.logger.Info("Connected to NATS", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	a := e.cfg.Auth
	switch {
	case a.Token != "":
		opts = append(opts, nats.Token(string(a.Token)))
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, string(a.Password)))
	case a.CredentialsFile != "":
		if _, err := os.Stat(a.CredentialsFile); err != nil {
			return nil, fmt.Errorf("auth.credentials_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(a.CredentialsFile))
	case a.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("auth.nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	}
	tlsOn := strings.HasPrefix(strings.TrimSpace(e.cfg.URL), "tls://")
	if t := e.cfg.TLS.Get(); t != nil && !t.Insecure {
		tlsOn = true
	}
	if tlsOn {
		tc := e.cfg.TLS.GetOrInsertDefault()
		tlsCfg, err := tc.LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		opts = append(opts, nats.Secure(tlsCfg))
	}
	return opts, nil
}

// connectLoop connects once with RetryOnFailedConnect (the client then
// reconnects by itself, forever); it only loops if the client refuses to
// start at all, which a later attempt may fix (a file appearing, DNS).
func (e *natsExporter) connectLoop(opts []nats.Option) {
	defer close(e.loopDone)
	for {
		nc, err := nats.Connect(e.cfg.URL, opts...)
		if err == nil {
			js, jerr := jetstream.New(nc,
				jetstream.WithPublishAsyncMaxPending(e.cfg.MaxInFlight),
				jetstream.WithPublishAsyncTimeout(e.cfg.PublishTimeout))
			if jerr == nil {
				e.mu.Lock()
				if e.stopped {
					e.mu.Unlock()
					nc.Close()
					return
				}
				e.nc, e.js = nc, js
				e.mu.Unlock()
				return
			}
			nc.Close()
			err = jerr
		}
		e.logger.Error("Cannot set up the NATS connection, trying again", zap.Error(err))
		select {
		case <-e.stop:
			return
		case <-time.After(e.cfg.ReconnectWait):
		}
	}
}

// shutdown closes the connection. Safe before start and safe twice.
func (e *natsExporter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.stop)
	}
	done := e.loopDone
	gauge := e.gauge
	e.gauge = nil
	e.mu.Unlock()
	var gaugeErr error
	if gauge != nil {
		gaugeErr = gauge.Unregister()
	}
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("shut down nats exporter: %w", ctx.Err())
		}
	}
	e.mu.Lock()
	nc := e.nc
	e.nc, e.js = nil, nil
	e.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
	return gaugeErr
}

// conn returns the JetStream context and the largest message body allowed,
// or ErrNotConnected.
func (e *natsExporter) conn() (jetstream.JetStream, int, error) {
	e.mu.Lock()
	nc, js := e.nc, e.js
	e.mu.Unlock()
	if nc == nil || !nc.IsConnected() {
		return nil, 0, ErrNotConnected
	}
	limit := int(nc.MaxPayload()) - headerReserve
	if e.cfg.MaxMessageSize > 0 && e.cfg.MaxMessageSize < limit {
		limit = e.cfg.MaxMessageSize
	}
	return js, limit, nil
}

func (e *natsExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	subject := e.cfg.Subjects.Traces
	js, limit, err := e.conn()
	if err != nil {
		e.tel.recordFailed(ctx, subject, reasonNotConnected, 1)
		return err
	}
	if td.SpanCount() == 0 {
		return nil
	}
	msgs, oversize, err := traceMessages(td, subject, limit)
	if err != nil {
		e.tel.recordFailed(ctx, subject, reasonMarshal, 1)
		return consumererror.NewPermanent(err)
	}
	if len(msgs) > 1 || oversize > 0 {
		e.tel.split.Add(ctx, 1, e.tel.attrs(subject))
	}
	if err := e.publish(ctx, js, msgs); err != nil {
		return err
	}
	if oversize > 0 {
		e.tel.recordFailed(ctx, subject, reasonOversize, oversize)
		return consumererror.NewPermanent(fmt.Errorf("%d span(s) dropped, each larger than %d bytes with its resource and scope: %w", oversize, limit, ErrOversize))
	}
	return nil
}

func (e *natsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	regular, evts, nRegular, nEvents := partitionLogs(ld, e.events)
	type batch struct {
		subject string
		logs    plog.Logs
	}
	var batches []batch
	if nRegular > 0 {
		batches = append(batches, batch{e.cfg.Subjects.Logs, regular})
	}
	if nEvents > 0 {
		batches = append(batches, batch{e.cfg.Subjects.Events, evts})
	}
	js, limit, err := e.conn()
	if err != nil {
		for _, b := range batches {
			e.tel.recordFailed(ctx, b.subject, reasonNotConnected, 1)
		}
		return err
	}
	var msgs []*message
	oversize := 0
	for _, b := range batches {
		bm, n, err := logMessages(b.logs, b.subject, limit)
		if err != nil {
			e.tel.recordFailed(ctx, b.subject, reasonMarshal, 1)
			return consumererror.NewPermanent(err)
		}
		if len(bm) > 1 || n > 0 {
			e.tel.split.Add(ctx, 1, e.tel.attrs(b.subject))
		}
		if n > 0 {
			e.tel.recordFailed(ctx, b.subject, reasonOversize, n)
		}
		oversize += n
		msgs = append(msgs, bm...)
	}
	if err := e.publish(ctx, js, msgs); err != nil {
		return err
	}
	if oversize > 0 {
		return consumererror.NewPermanent(fmt.Errorf("%d log record(s) dropped, each larger than %d bytes with its resource and scope: %w", oversize, limit, ErrOversize))
	}
	return nil
}

// traceMessages marshals td into messages of at most limit bytes: td
// whole when it fits (the common case costs one marshal), else split.
func traceMessages(td ptrace.Traces, subject string, limit int) ([]*message, int, error) {
	data, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return nil, 0, fmt.Errorf("marshal traces: %w", err)
	}
	if len(data) <= limit {
		return []*message{newMessage(subject, data, td.SpanCount())}, 0, nil
	}
	parts, oversize := splitTraces(td, limit)
	msgs := make([]*message, 0, len(parts))
	for _, p := range parts {
		data, err := ptraceotlp.NewExportRequestFromTraces(p).MarshalProto()
		if err != nil {
			return nil, 0, fmt.Errorf("marshal traces: %w", err)
		}
		msgs = append(msgs, newMessage(subject, data, p.SpanCount()))
	}
	return msgs, oversize, nil
}

// logMessages is traceMessages for logs.
func logMessages(ld plog.Logs, subject string, limit int) ([]*message, int, error) {
	data, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		return nil, 0, fmt.Errorf("marshal logs: %w", err)
	}
	if len(data) <= limit {
		return []*message{newMessage(subject, data, ld.LogRecordCount())}, 0, nil
	}
	parts, oversize := splitLogs(ld, limit)
	msgs := make([]*message, 0, len(parts))
	for _, p := range parts {
		data, err := plogotlp.NewExportRequestFromLogs(p).MarshalProto()
		if err != nil {
			return nil, 0, fmt.Errorf("marshal logs: %w", err)
		}
		msgs = append(msgs, newMessage(subject, data, p.LogRecordCount()))
	}
	return msgs, oversize, nil
}

// publish sends every message asynchronously, at most max_in_flight awaiting
// their PubAck across the exporter, and returns once JetStream acknowledged
// them all, or with the first reason why not. Any retryable failure makes
// the whole export retryable: the messages that were stored carry content
// ids, so the retry stores only the missing ones.
func (e *natsExporter) publish(ctx context.Context, js jetstream.JetStream, msgs []*message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var pubErr error
	for i, m := range msgs {
		stall := e.cfg.PublishTimeout
		if dl, ok := ctx.Deadline(); ok {
			stall = time.Until(dl)
		}
		if stall <= 0 {
			pubErr = fmt.Errorf("publish to %s: %w", m.subject, ErrPubAckTimeout)
			e.recordFailedFrom(ctx, msgs[i:], reasonTimeout)
			break
		}
		nm := &nats.Msg{Subject: m.subject, Data: m.data, Header: nats.Header{}}
		nm.Header.Set(bus.HeaderMsgID, m.id)
		f, err := js.PublishMsgAsync(nm, jetstream.WithStallWait(stall))
		if err != nil {
			reason := reasonPublish
			pubErr = fmt.Errorf("publish to %s: %w", m.subject, err)
			if errors.Is(err, nats.ErrMaxPayload) {
				reason = reasonRejected
				pubErr = consumererror.NewPermanent(fmt.Errorf("publish to %s: %w: %w", m.subject, ErrRejected, err))
			}
			e.recordFailedFrom(ctx, msgs[i:], reason)
			break
		}
		e.tel.inFlight.Add(ctx, 1, e.tel.attrs(m.subject))
		futures = append(futures, f)
	}

	var retryable, permanent error
	if pubErr != nil {
		if consumererror.IsPermanent(pubErr) {
			permanent = pubErr
		} else {
			retryable = pubErr
		}
	}
	for i, f := range futures {
		m := msgs[i]
		select {
		case ack := <-f.Ok():
			e.tel.recordPublished(ctx, m, ack.Duplicate)
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
				e.tel.recordFailed(ctx, m.subject, reasonRejected, 1)
				if permanent == nil {
					permanent = consumererror.NewPermanent(fmt.Errorf("publish to %s (%d bytes; lower max_message_size): %w: %w", m.subject, len(m.data), ErrRejected, err))
				}
				break
			}
			reason := reasonPublish
			if errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
				reason, err = reasonTimeout, fmt.Errorf("%w: %w", ErrPubAckTimeout, err)
			}
			e.tel.recordFailed(ctx, m.subject, reason, 1)
			if retryable == nil {
				retryable = fmt.Errorf("publish to %s: %w", m.subject, err)
			}
		case <-ctx.Done():
			// The rest is abandoned; their futures time out inside the
			// client after publish_timeout. A retry is deduplicated.
			for _, rest := range msgs[i:len(futures)] {
				e.tel.inFlight.Add(ctx, -1, e.tel.attrs(rest.subject))
			}
			e.recordFailedFrom(ctx, msgs[i:len(futures)], reasonTimeout)
			if retryable == nil {
				retryable = fmt.Errorf("%w (%d of %d messages unacknowledged): %w", ErrPubAckTimeout, len(futures)-i, len(msgs), ctx.Err())
			}
			return retryable
		}
		e.tel.inFlight.Add(ctx, -1, e.tel.attrs(m.subject))
	}
	if retryable != nil {
		return retryable
	}
	return permanent
}

func (e *natsExporter) recordFailedFrom(ctx context.Context, msgs []*message, reason string) {
	for _, m := range msgs {
		e.tel.recordFailed(ctx, m.subject, reason, 1)
	}
}
