// Package grpcdecodeextension is an OpenTelemetry Collector extension that
// makes an OTLP/gRPC receiver answer an undecodable request with
// INVALID_ARGUMENT, as OTLP/HTTP answers it with 400, instead of grpc-go's
// INTERNAL.
//
// grpc-go decodes a request before any handler or interceptor sees it and
// turns a decoding error into INTERNAL, a code that says the server is at
// fault. The extension is a gRPC server middleware (the receiver's
// protocols.grpc.middlewares list): it gives the server a codec that
// delegates to the registered "proto" codec and, when that fails, records
// the failure for the message instead of returning it, plus a unary
// interceptor, run first, that answers a recorded failure with
// INVALID_ARGUMENT before the request reaches the receiver.
//
// The interceptor is installed with grpc.UnaryInterceptor so that it runs
// before every chained interceptor (authentication included): a recorded
// failure is always collected right after the decode. gRPC allows one such
// interceptor per server, so the extension cannot be combined with another
// middleware that sets grpc.UnaryInterceptor (grpc-go panics when it builds
// such a server).
// It changes nothing for streaming RPCs, which OTLP does not use, and
// nothing for requests that decode.
package grpcdecodeextension
