package natsexporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// testExporters holds a started traces and logs exporter and their telemetry.
type testExporters struct {
	traces exporter.Traces
	logs   exporter.Logs
	tel    *componenttest.Telemetry
}

func testConfig(url string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.URL = url
	cfg.PublishTimeout = 5 * time.Second
	cfg.ReconnectWait = 50 * time.Millisecond
	cfg.ConnectTimeout = 500 * time.Millisecond
	return cfg
}

func startExporters(t *testing.T, cfg *Config) *testExporters {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	set := exportertest.NewNopSettings(Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	ctx := context.Background()
	te, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	le, err := NewFactory().CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, te.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, le.Start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() {
		require.NoError(t, te.Shutdown(context.Background()))
		require.NoError(t, le.Shutdown(context.Background()))
		require.NoError(t, tel.Shutdown(context.Background()))
	})
	return &testExporters{traces: te, logs: le, tel: tel}
}

// waitConnected waits until an export succeeds; the connection is made in
// the background after Start.
func (e *testExporters) waitConnected(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return e.traces.ConsumeTraces(context.Background(), ptrace.NewTraces()) == nil &&
			e.logs.ConsumeLogs(context.Background(), plog.NewLogs()) == nil
	}, 10*time.Second, 20*time.Millisecond)
}

// sum adds up a counter's data points whose attributes include want.
func (e *testExporters) sum(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := e.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		ok := true
		for _, kv := range want {
			if v, found := dp.Attributes.Value(kv.Key); !found || v != kv.Value {
				ok = false
			}
		}
		if ok {
			total += dp.Value
		}
	}
	return total
}

// gauge returns the value of an int64 gauge for one signal.
func (e *testExporters) gauge(t *testing.T, name, signal string) int64 {
	t.Helper()
	m, err := e.tel.GetMetric(name)
	require.NoError(t, err)
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		if v, ok := dp.Attributes.Value("signal"); ok && v.AsString() == signal {
			return dp.Value
		}
	}
	t.Fatalf("no %s point for signal %s", name, signal)
	return 0
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	require.Equal(t, Type, f.Type())
	require.Equal(t, "nats", f.Type().String())
	require.NoError(t, componenttest.CheckConfigStruct(f.CreateDefaultConfig()))
	require.Equal(t, component.StabilityLevelAlpha, f.TracesStability())
	require.Equal(t, component.StabilityLevelAlpha, f.LogsStability())
	_, err := f.CreateMetrics(context.Background(), exportertest.NewNopSettings(Type), f.CreateDefaultConfig())
	require.Error(t, err, "metrics are not a Tapline signal")
}

// TestLifecycle starts and shuts down each exporter twice, shuts down one
// that never started, and shuts down twice, all without NATS running.
func TestLifecycle(t *testing.T) {
	cfg := testConfig("nats://127.0.0.1:1")
	ctx := context.Background()
	set := exportertest.NewNopSettings(Type)
	for i := 0; i < 2; i++ {
		te, err := NewFactory().CreateTraces(ctx, set, cfg)
		require.NoError(t, err)
		le, err := NewFactory().CreateLogs(ctx, set, cfg)
		require.NoError(t, err)
		for _, c := range []component.Component{te, le} {
			require.NoError(t, c.Start(ctx, componenttest.NewNopHost()))
			require.NoError(t, c.Shutdown(ctx))
			require.NoError(t, c.Shutdown(ctx))
		}
	}
	te, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, te.Shutdown(ctx), "shutdown before start")
}

func TestPublishTracesReadBack(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	e := startExporters(t, testConfig(srv.URL()))
	e.waitConnected(t)

	td := makeTraces(2, 2, 5, 20)
	want, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), td))

	msgs := srv.Messages(t, bus.SubjectTraces)
	require.Len(t, msgs, 1)
	require.Equal(t, want, msgs[0].Data, "stored bytes are the OTLP request exactly")
	sum := sha256.Sum256(append([]byte(bus.SubjectTraces+"\x00"), want...))
	require.Equal(t, hex.EncodeToString(sum[:]), msgs[0].Header.Get(bus.HeaderMsgID))

	got := ptraceotlp.NewExportRequest()
	require.NoError(t, got.UnmarshalProto(msgs[0].Data))
	require.Equal(t, spanIDs(td), spanIDs(got.Traces()))

	subj := attribute.String(attrSubject, bus.SubjectTraces)
	require.EqualValues(t, 1, e.sum(t, MetricPublishedMessages, subj))
	require.EqualValues(t, 20, e.sum(t, MetricPublishedItems, subj))
	require.EqualValues(t, len(want), e.sum(t, MetricPublishedBytes, subj))
	require.EqualValues(t, 0, e.sum(t, MetricInFlight))
}

func TestRetriedPublishIsStoredOnce(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	e := startExporters(t, testConfig(srv.URL()))
	e.waitConnected(t)
	ctx := context.Background()

	td := makeTraces(1, 1, 10, 10)
	require.NoError(t, e.traces.ConsumeTraces(ctx, td), "first attempt")
	require.NoError(t, e.traces.ConsumeTraces(ctx, td), "exporterhelper-style retry of the same pdata")

	// A client retry arrives as new bytes, unmarshalled by the receiver.
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	again := ptraceotlp.NewExportRequest()
	require.NoError(t, again.UnmarshalProto(raw))
	require.NoError(t, e.traces.ConsumeTraces(ctx, again.Traces()), "client retry")

	messages, spans := srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 1, messages)
	require.Equal(t, 10, spans)
	require.EqualValues(t, 2, e.sum(t, MetricDuplicates))

	other := makeTraces(1, 1, 10, 11)
	require.NoError(t, e.traces.ConsumeTraces(ctx, other), "different data is not a duplicate")
	messages, _ = srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 2, messages)
}

func TestLogsRouting(t *testing.T) {
	tests := []struct {
		name       string
		events     string
		names      []string
		wantLogs   int
		wantEvents int
	}{
		{name: "mixed", events: bus.SubjectEvents, names: []string{event.AccessEvent, "", event.TLSEvent}, wantLogs: 2, wantEvents: 4},
		{name: "only app logs", events: bus.SubjectEvents, names: []string{"", "x"}, wantLogs: 4},
		{name: "only events", events: bus.SubjectEvents, names: []string{event.TLSEvent}, wantEvents: 2},
		{name: "routing off", events: "", names: []string{event.AccessEvent, ""}, wantLogs: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := natsexportertest.RunServer(t, natsexportertest.Options{})
			srv.CreateStream(t)
			cfg := testConfig(srv.URL())
			cfg.Subjects.Events = tt.events
			e := startExporters(t, cfg)
			e.waitConnected(t)
			require.NoError(t, e.logs.ConsumeLogs(context.Background(), makeLogs(tt.names...)))

			_, logs := srv.CountLogRecords(t, bus.SubjectLogs)
			_, events := srv.CountLogRecords(t, bus.SubjectEvents)
			require.Equal(t, tt.wantLogs, logs)
			require.Equal(t, tt.wantEvents, events)
			for _, m := range srv.Messages(t, bus.SubjectEvents) {
				req := plogotlp.NewExportRequest()
				require.NoError(t, req.UnmarshalProto(m.Data))
				rls := req.Logs().ResourceLogs()
				for r := 0; r < rls.Len(); r++ {
					lrs := rls.At(r).ScopeLogs().At(0).LogRecords()
					for i := 0; i < lrs.Len(); i++ {
						require.Contains(t, []string{event.AccessEvent, event.TLSEvent}, lrs.At(i).EventName())
					}
				}
			}
		})
	}
}

func TestOversizedPayloadIsSplit(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{MaxPayload: 16 * 1024})
	srv.CreateStream(t)
	cfg := testConfig(srv.URL())
	cfg.MaxInFlight = 2 // the window must stall and drain, not fail
	e := startExporters(t, cfg)
	e.waitConnected(t)

	td := makeTraces(3, 2, 40, 200) // about 60 KB
	require.NoError(t, e.traces.ConsumeTraces(context.Background(), td))

	msgs := srv.Messages(t, bus.SubjectTraces)
	require.Greater(t, len(msgs), 3)
	var parts []ptrace.Traces
	for _, m := range msgs {
		require.LessOrEqual(t, len(m.Data)+len(m.Header.Get(bus.HeaderMsgID)), 16*1024)
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(m.Data))
		parts = append(parts, req.Traces())
	}
	require.Equal(t, spanIDs(td), spanIDs(parts...), "every span stored once, in order")
	require.EqualValues(t, 1, e.sum(t, MetricSplitPayloads))
	require.EqualValues(t, 0, e.sum(t, MetricInFlight))

	t.Run("a span too large alone", func(t *testing.T) {
		big := makeTraces(1, 1, 1, 20*1024)
		makeTraces(1, 1, 3, 10).ResourceSpans().MoveAndAppendTo(big.ResourceSpans())
		err := e.traces.ConsumeTraces(context.Background(), big)
		require.ErrorIs(t, err, ErrOversize)
		require.True(t, consumererror.IsPermanent(err))
		_, spans := srv.CountSpans(t, bus.SubjectTraces)
		require.Equal(t, td.SpanCount()+3, spans, "the spans that fit are stored")
		require.EqualValues(t, 1, e.sum(t, MetricFailedMessages, attribute.String(attrReason, reasonOversize)))
	})
}

func TestMaxMessageSizeBelowServer(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	cfg := testConfig(srv.URL())
	cfg.MaxMessageSize = 4096
	e := startExporters(t, cfg)
	e.waitConnected(t)
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), makeLogs(make([]string, 400)...)))
	msgs := srv.Messages(t, bus.SubjectLogs)
	require.Greater(t, len(msgs), 1)
	for _, m := range msgs {
		require.LessOrEqual(t, len(m.Data), 4096)
	}
	_, records := srv.CountLogRecords(t, bus.SubjectLogs)
	require.Equal(t, 800, records)
}

// TestNATSDown covers NATS being down at start and going away while
// connected: every export fails with a retryable error, nothing panics, and
// after NATS is back the retried export is stored exactly once.
func TestNATSDown(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	srv.Shutdown()
	ctx := context.Background()

	e := startExporters(t, testConfig(srv.URL()))
	td := makeTraces(1, 1, 4, 10)
	for i := 0; i < 3; i++ {
		err := e.traces.ConsumeTraces(ctx, td)
		require.ErrorIs(t, err, ErrNotConnected)
		require.False(t, consumererror.IsPermanent(err), "retryable: clients must retry")
		require.Error(t, e.logs.ConsumeLogs(ctx, makeLogs("a")))
	}
	require.Positive(t, e.sum(t, MetricFailedMessages, attribute.String(attrReason, reasonNotConnected)))
	require.Zero(t, e.gauge(t, MetricConnected, "traces"))
	require.Zero(t, e.gauge(t, MetricConnected, "logs"))

	srv.Start()
	require.Eventually(t, func() bool { return e.traces.ConsumeTraces(ctx, td) == nil }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, e.traces.ConsumeTraces(ctx, td), "a second client retry")
	_, spans := srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 4, spans)
	require.EqualValues(t, 1, e.gauge(t, MetricConnected, "traces"))
	require.Eventually(t, func() bool { return e.gauge(t, MetricConnected, "logs") == 1 }, 10*time.Second, 20*time.Millisecond)

	// NATS goes away while connected.
	srv.Shutdown()
	td2 := makeTraces(1, 1, 6, 10)
	require.Eventually(t, func() bool {
		err := e.traces.ConsumeTraces(ctx, td2)
		return err != nil && !consumererror.IsPermanent(err)
	}, 10*time.Second, 20*time.Millisecond)
	srv.Start()
	require.Eventually(t, func() bool { return e.traces.ConsumeTraces(ctx, td2) == nil }, 10*time.Second, 20*time.Millisecond)
	_, spans = srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 10, spans)
}

// TestNoStream: NATS is up but no stream binds the subject (the bus is not
// set up yet): retryable, so clients keep the data.
func TestNoStream(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	cfg := testConfig(srv.URL())
	cfg.PublishTimeout = time.Second
	e := startExporters(t, cfg)
	require.Eventually(t, func() bool {
		err := e.traces.ConsumeTraces(context.Background(), makeTraces(1, 1, 1, 1))
		return err != nil && !errors.Is(err, ErrNotConnected)
	}, 10*time.Second, 20*time.Millisecond)
	err := e.traces.ConsumeTraces(context.Background(), makeTraces(1, 1, 1, 1))
	require.Error(t, err)
	require.False(t, consumererror.IsPermanent(err))
	require.EqualValues(t, 0, e.sum(t, MetricInFlight))
}

func TestTokenAuth(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{Token: "let-me-in"})
	srv.CreateStream(t)

	t.Run("right token", func(t *testing.T) {
		cfg := testConfig(srv.URL())
		cfg.Auth.Token = "let-me-in"
		e := startExporters(t, cfg)
		e.waitConnected(t)
		require.NoError(t, e.traces.ConsumeTraces(context.Background(), makeTraces(1, 1, 2, 1)))
	})
	t.Run("wrong token", func(t *testing.T) {
		cfg := testConfig(srv.URL())
		cfg.Auth.Token = "wrong"
		e := startExporters(t, cfg)
		for i := 0; i < 3; i++ {
			err := e.traces.ConsumeTraces(context.Background(), makeTraces(1, 1, 2, 1))
			require.ErrorIs(t, err, ErrNotConnected)
		}
	})
	_, spans := srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 2, spans)
}

func exportertestSettings() exporter.Settings { return exportertest.NewNopSettings(Type) }

func componenttestHost() component.Host { return componenttest.NewNopHost() }
