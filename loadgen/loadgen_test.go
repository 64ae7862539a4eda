package loadgen

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink is an OTLP/gRPC trace receiver that keeps every trace id it gets.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer
	mu       sync.Mutex
	traceIDs map[pcommon.TraceID]int
	spans    int
	services map[string]int
}

func (s *sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rss := req.Traces().ResourceSpans()
	for i := range rss.Len() {
		svc, _ := rss.At(i).Resource().Attributes().Get("service.name")
		s.services[svc.Str()]++
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				s.traceIDs[sp.TraceID()]++
				s.spans++
				if sp.Attributes().Len() != 10 || sp.Events().Len() != 2 {
					panic("unexpected span shape")
				}
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

func startSink(t *testing.T) (string, *sink) {
	t.Helper()
	s := &sink{traceIDs: map[pcommon.TraceID]int{}, services: map[string]int{}}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, s)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return l.Addr().String(), s
}

func TestRunSendsUniqueSpans(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"as fast as possible", Config{Workers: 3, SpansPerRequest: 64}},
		{"at a rate", Config{Workers: 2, SpansPerRequest: 10, Rate: 2000, Service: "paced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, s := startSink(t)
			tt.cfg.Endpoint = addr
			g, err := New(tt.cfg)
			require.NoError(t, err)
			defer func() { require.NoError(t, g.Close()) }()
			var total int64
			for range 2 { // trace ids stay unique across runs
				r := g.Run(context.Background(), 200*time.Millisecond)
				require.NoError(t, r.FirstError)
				require.Zero(t, r.Failures)
				require.Positive(t, r.AcceptedSpans)
				require.Equal(t, r.Requests*int64(g.cfg.SpansPerRequest), r.AcceptedSpans)
				total += r.AcceptedSpans
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			require.EqualValues(t, total, s.spans)
			require.Len(t, s.traceIDs, s.spans, "every span has a trace id of its own")
			require.Equal(t, map[string]int{g.cfg.Service: int(total) / g.cfg.SpansPerRequest}, s.services)
		})
	}
}

func TestRunCountsFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	g, err := New(Config{Endpoint: addr, Workers: 1, SpansPerRequest: 5, Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	defer func() { require.NoError(t, g.Close()) }()
	r := g.Run(context.Background(), 300*time.Millisecond)
	require.Error(t, r.FirstError)
	require.Zero(t, r.AcceptedSpans)
	require.Positive(t, r.Failures)
	require.Equal(t, r.Failures*5, r.FailedSpans)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Endpoint: "127.0.0.1:1", Workers: -1},
		{Endpoint: "127.0.0.1:1", SpansPerRequest: -3},
		{Endpoint: "127.0.0.1:1", Rate: -1},
	} {
		_, err := New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}
