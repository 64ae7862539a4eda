package grpcdecodeextension

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// protoCodec is the name of the codec grpc-go uses for protobuf (pdata
// registers its own under it).
const protoCodec = "proto"

// decodeExtension hands each gRPC server that lists it a codec and an
// interceptor sharing one record of failed decodes.
type decodeExtension struct{}

// Start does nothing: the work happens in the servers' options.
func (*decodeExtension) Start(context.Context, component.Host) error { return nil }

// Shutdown does nothing.
func (*decodeExtension) Shutdown(context.Context) error { return nil }

// GetGRPCServerOptions returns the codec and the interceptor for one
// server.
func (*decodeExtension) GetGRPCServerOptions(context.Context) ([]grpc.ServerOption, error) {
	delegate := encoding.GetCodecV2(protoCodec)
	if delegate == nil {
		return nil, fmt.Errorf("grpc_decode: no %q codec registered", protoCodec)
	}
	opts, _ := serverOptions(delegate)
	return opts, nil
}

// serverOptions returns the options for one server around the delegate
// codec, and the failures record they share.
func serverOptions(delegate encoding.CodecV2) ([]grpc.ServerOption, *failures) {
	f := &failures{byMsg: map[any]error{}}
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(&codec{delegate: delegate, failures: f}),
		grpc.UnaryInterceptor(f.intercept),
		grpc.StreamInterceptor(f.interceptStream),
	}, f
}

// failures holds the decoding errors of requests between their decode and
// the interceptor, keyed by the request message (a pointer), which the
// entry keeps alive until the interceptor removes it.
type failures struct {
	mu    sync.Mutex
	byMsg map[any]error
}

func (f *failures) record(msg any, err error) {
	f.mu.Lock()
	f.byMsg[msg] = err
	f.mu.Unlock()
}

// take removes and returns msg's decoding error, nil if it decoded.
func (f *failures) take(msg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err, ok := f.byMsg[msg]
	if ok {
		delete(f.byMsg, msg)
	}
	return err
}

// intercept answers a request that did not decode with INVALID_ARGUMENT.
func (f *failures) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := f.take(req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "request is not a valid protobuf message: %v", err)
	}
	return handler(ctx, req)
}

// interceptStream does for each message of a streaming RPC what intercept
// does for a unary one. OTLP has no streaming RPCs; this keeps any other
// service on the server from seeing a message that did not decode.
func (f *failures) interceptStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &checkedStream{ServerStream: ss, failures: f})
}

type checkedStream struct {
	grpc.ServerStream
	failures *failures
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.failures.take(m); err != nil {
		return status.Errorf(codes.InvalidArgument, "request is not a valid protobuf message: %v", err)
	}
	return nil
}

// codec is the "proto" codec with decoding errors recorded instead of
// returned (grpc-go would answer INTERNAL).
type codec struct {
	delegate encoding.CodecV2
	failures *failures
}

func (c *codec) Marshal(v any) (mem.BufferSlice, error) { return c.delegate.Marshal(v) }

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.delegate.Unmarshal(data, v)
	if err == nil || reflect.ValueOf(v).Kind() != reflect.Pointer {
		return err
	}
	c.failures.record(v, err)
	return nil
}

func (c *codec) Name() string { return c.delegate.Name() }

var (
	_ extension.Extension            = (*decodeExtension)(nil)
	_ extensionmiddleware.GRPCServer = (*decodeExtension)(nil)
	_ encoding.CodecV2               = (*codec)(nil)
)
