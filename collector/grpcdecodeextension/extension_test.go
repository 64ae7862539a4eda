package grpcdecodeextension

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawCodec puts bytes on the wire as they are, so a client can send
// anything as a request.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// traceSink counts the spans that reach the OTLP service.
type traceSink struct {
	ptraceotlp.UnimplementedGRPCServer
	spans atomic.Int64
}

func (s *traceSink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

// serve runs an OTLP trace server with the extension's options (after
// extra ones) on loopback and returns a client connection to it and the
// failures record of the server.
func serve(t *testing.T, extra ...grpc.ServerOption) (*grpc.ClientConn, *traceSink, *failures) {
	t.Helper()
	opts, f := serverOptions(encoding.GetCodecV2(protoCodec))
	srv := grpc.NewServer(append(extra, opts...)...)
	sink := &traceSink{}
	ptraceotlp.RegisterGRPCServer(srv, sink)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn, sink, f
}

func validRequest(t *testing.T) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("GET /")
	sp.SetTraceID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID([8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func TestUndecodableRequestIsInvalidArgument(t *testing.T) {
	// A chained interceptor that refuses every request with a header, as
	// an authenticator would: it runs after the extension's interceptor.
	refuse := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.Unauthenticated, "no")
	})
	tests := []struct {
		name    string
		opts    []grpc.ServerOption
		body    []byte
		want    codes.Code
		spansIn int64
	}{
		{"garbage", nil, []byte("\xff\xff\xffnot protobuf"), codes.InvalidArgument, 0},
		// ExportTraceServiceRequest{resource_spans{scope_spans{span{trace_id: 5 bytes}}}}
		{"trace id of wrong length", nil, []byte{0x0a, 0x0b, 0x12, 0x09, 0x12, 0x07, 0x0a, 0x05, 1, 2, 3, 4, 5}, codes.InvalidArgument, 0},
		{"truncated", nil, validRequest(t)[:20], codes.InvalidArgument, 0},
		{"valid", nil, validRequest(t), codes.OK, 1},
		{"empty request", nil, nil, codes.OK, 0},
		{"garbage before a refusing interceptor", []grpc.ServerOption{refuse}, []byte("\xff\xffnope"), codes.InvalidArgument, 0},
		{"valid before a refusing interceptor", []grpc.ServerOption{refuse}, validRequest(t), codes.Unauthenticated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, sink, f := serve(t, tt.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out []byte
			err := conn.Invoke(ctx, exportMethod, &tt.body, &out, grpc.ForceCodec(rawCodec{}))
			require.Equal(t, tt.want, status.Code(err), "%v", err)
			require.Equal(t, tt.spansIn, sink.spans.Load())
			f.mu.Lock()
			defer f.mu.Unlock()
			require.Empty(t, f.byMsg, "every recorded failure is collected")
		})
	}
}

func TestLifecycle(t *testing.T) {
	for range 2 {
		ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(Type), createDefaultConfig())
		require.NoError(t, err)
		opts, err := ext.(extensionmiddleware.GRPCServer).GetGRPCServerOptions(context.Background())
		require.NoError(t, err)
		require.Len(t, opts, 3, "codec, unary and stream interceptors")
		require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, ext.Shutdown(context.Background()))
		require.NoError(t, ext.Shutdown(context.Background()))
	}
	require.NoError(t, createDefaultConfig().(*Config).Validate())
}
