package apphop_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/demo/apphop"
	"github.com/tapline/tapline/demo/telemetry"
	"github.com/tapline/tapline/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// records keeps what the logger provider emits: the SDK's processor
// interface, so the records are exactly what an exporter would get.
type records struct {
	mu   sync.Mutex
	list []sdklog.Record
}

func (r *records) OnEmit(_ context.Context, rec *sdklog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rec.Clone())
	return nil
}
func (r *records) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (r *records) Shutdown(context.Context) error                         { return nil }
func (r *records) ForceFlush(context.Context) error                       { return nil }

func attrs(rec sdklog.Record) map[string]string {
	m := map[string]string{}
	rec.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value.Emit()
		return true
	})
	return m
}

const (
	traceHex  = "0af7651916cd43dd8448eb211c80319c"
	parentHex = "b7ad6b7169203331"
)

func TestRelay(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	logs := &records{}
	p := &telemetry.Providers{
		Traces: sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)),
		Logs:   sdklog.NewLoggerProvider(sdklog.WithProcessor(logs)),
	}
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	r := apphop.New(p, "app-7")
	r.Skip = func(h apphop.Hop) bool { return h.Path == "/healthz" }

	input := strings.Join([]string{
		`{"msg": "request", "method": "GET", "path": "/fail", "request_id": "rid-1", "trace_id": "` + traceHex + `", "status": 500}`,
		`{"msg": "hop", "start_ns": 1700000000000000000, "duration_ns": 2500000, "method": "POST", "path": "/fail", "query": "a=1",` +
			` "status": 500, "request_id": "rid-1", "traceparent": "00-` + traceHex + `-` + parentHex + `-01",` +
			` "principal": "spiffe://tapline.demo/ns/edge/sa/nginx", "principal_type": "spiffe", "user_agent": "ua/1"}`,
		`{"msg": "hop", "start_ns": 1700000000000000000, "duration_ns": 1000, "method": "GET", "path": "/healthz", "status": 200}`,
		``,
		`not json at all`,
	}, "\n") + "\n"
	var other strings.Builder
	require.NoError(t, r.Consume(context.Background(), strings.NewReader(input), &other))
	require.NoError(t, p.Flush(context.Background()))

	// The application's own lines pass through, the hops do not.
	assert.Equal(t, strings.Split(input, "\n")[0]+"\n\nnot json at all\n", other.String())

	// One span: the health check was skipped.
	got := spans.GetSpans()
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, "POST /fail", s.Name)
	assert.Equal(t, trace.SpanKindServer, s.SpanKind)
	assert.Equal(t, traceHex, s.SpanContext.TraceID().String())
	assert.Equal(t, parentHex, s.Parent.SpanID().String(), "continues the traceparent the application received")
	assert.True(t, s.Parent.IsRemote())
	assert.Equal(t, int64(1700000000000000000), s.StartTime.UnixNano())
	assert.Equal(t, int64(2500000), s.EndTime.Sub(s.StartTime).Nanoseconds())
	assert.Equal(t, codes.Error, s.Status.Code)

	logs.mu.Lock()
	defer logs.mu.Unlock()
	require.Len(t, logs.list, 3, "two application log lines (not the empty one) and one access event")
	var access []sdklog.Record
	for _, rec := range logs.list {
		if rec.EventName() == event.AccessEvent {
			access = append(access, rec)
		}
	}
	require.Len(t, access, 1)
	a := access[0]
	assert.Equal(t, s.SpanContext.TraceID(), a.TraceID())
	assert.Equal(t, s.SpanContext.SpanID(), a.SpanID(), "the event is the application span's")
	assert.Equal(t, int64(1700000000000000000), a.Timestamp().UnixNano())
	assert.Equal(t, map[string]string{
		event.AttrSource:        event.SourceApp,
		event.AttrNode:          "app-7",
		event.AttrRequestID:     "rid-1",
		event.AttrHTTPMethod:    "POST",
		event.AttrURLPath:       "/fail",
		event.AttrURLQuery:      "a=1",
		event.AttrHTTPStatus:    "500",
		event.AttrDurationNanos: "2500000",
		event.AttrUserAgent:     "ua/1",
		event.AttrPrincipal:     "spiffe://tapline.demo/ns/edge/sa/nginx",
		event.AttrEnduserID:     "spiffe://tapline.demo/ns/edge/sa/nginx",
		event.AttrPrincipalType: "spiffe",
	}, attrs(a))

	// The application's request line, with the ids it names.
	first := logs.list[0]
	assert.Empty(t, first.EventName())
	assert.Equal(t, strings.Split(input, "\n")[0], first.Body().AsString())
	assert.Equal(t, map[string]string{event.AttrNode: "app-7", event.AttrRequestID: "rid-1", event.AttrTraceID: traceHex}, attrs(first))
}
