package collector

import (
	"context"
	"net"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// otlpSink is a bare OTLP/gRPC trace server handing each request to fn.
type otlpSink struct {
	ptraceotlp.UnimplementedGRPCServer
	fn func(ptraceotlp.ExportRequest) error
}

func (s *otlpSink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return ptraceotlp.NewExportResponse(), s.fn(req)
}

type sinkListener struct {
	addr  string
	close func()
}

func listenOTLP(_ context.Context, fn func(ptraceotlp.ExportRequest) error) (*sinkListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(s, &otlpSink{fn: fn})
	go func() { _ = s.Serve(l) }()
	return &sinkListener{addr: l.Addr().String(), close: s.Stop}, nil
}
