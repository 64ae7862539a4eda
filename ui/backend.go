package ui

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
)

// Backend is the query API as the UI calls it: the generated client
// interfaces, so that the in-process connection (NewInProcess) and any
// other connection look the same, and an authenticator for sign-in.
type Backend struct {
	Traces   taplinev1.TraceServiceClient
	Events   taplinev1.EventServiceClient
	Pipeline taplinev1.PipelineServiceClient
	Auth     Authenticator
}

// Authenticator checks a bearer token the way the query API does and says
// who it belongs to and with which role.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (query.Caller, error)
}

// Metadata the UI sends with its calls. The query API takes the HTTP
// request's details from the x-tapline-http-* keys on in-process
// connections (as its own REST gateway sends them), so its access records
// name the page a person opened, their address and browser.
const (
	mdAuthorization = "authorization"
	mdRequestID     = "x-request-id"
	mdHTTPMethod    = "x-tapline-http-method"
	mdHTTPPath      = "x-tapline-http-path"
	mdHTTPQuery     = "x-tapline-http-query"
	mdHTTPProto     = "x-tapline-http-proto"
	mdHTTPClient    = "x-tapline-http-client"
	mdHTTPAgent     = "x-tapline-http-user-agent"
	mdWhoAmI        = "x-tapline-ui-whoami"
	mdCaller        = "x-tapline-ui-caller"
)

// InProcess serves the query API's services on an in-memory connection
// with the API's own interceptors (authentication, roles, timeouts, access
// records), for the UI to call without a network hop.
type InProcess struct {
	gs   *grpc.Server
	lis  *bufconn.Listener
	conn *grpc.ClientConn
	wg   sync.WaitGroup
	once sync.Once
}

// NewInProcess starts an in-memory gRPC server for srv's services. Close
// stops it; it does not stop srv.
func NewInProcess(srv *query.Server) (*InProcess, error) {
	if srv == nil {
		return nil, errors.New("ui: nil query server")
	}
	opts := append(srv.GRPCServerOptions(), grpc.ChainUnaryInterceptor(whoAmI))
	p := &InProcess{gs: grpc.NewServer(opts...), lis: bufconn.Listen(1 << 20)}
	srv.RegisterGRPC(p.gs)
	conn, err := grpc.NewClient("passthrough:///ui",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return p.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)),
	)
	if err != nil {
		return nil, errors.Join(err, p.lis.Close())
	}
	p.conn = conn
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.gs.Serve(p.lis)
	}()
	return p, nil
}

// Backend returns the clients of the in-process connection.
func (p *InProcess) Backend() Backend {
	return Backend{
		Traces:   taplinev1.NewTraceServiceClient(p.conn),
		Events:   taplinev1.NewEventServiceClient(p.conn),
		Pipeline: taplinev1.NewPipelineServiceClient(p.conn),
		Auth:     inProcessAuth{taplinev1.NewTraceServiceClient(p.conn)},
	}
}

// Close stops the in-memory server. Safe twice.
func (p *InProcess) Close() error {
	var err error
	p.once.Do(func() {
		err = p.conn.Close()
		p.gs.Stop()
		p.wg.Wait()
	})
	return err
}

// inProcessAuth authenticates a token through the API's interceptors: a
// ListServices call marked as a sign-in check, which whoAmI answers with
// the caller the API established instead of running it. The API records it
// like any other call.
type inProcessAuth struct{ traces taplinev1.TraceServiceClient }

func (a inProcessAuth) Authenticate(ctx context.Context, token string) (query.Caller, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, mdWhoAmI, "1")
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, mdAuthorization, "Bearer "+token)
	}
	var hdr metadata.MD
	if _, err := a.traces.ListServices(ctx, &taplinev1.ListServicesRequest{}, grpc.Header(&hdr)); err != nil {
		return query.Caller{}, err
	}
	v := hdr.Get(mdCaller)
	if len(v) == 0 {
		return query.Caller{}, errors.New("ui: the API did not say who the caller is")
	}
	return decodeCaller(v[0])
}

// whoAmI runs inside the API's interceptors: on a marked ListServices call
// it returns the authenticated caller in a header and skips the query.
func whoAmI(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if info.FullMethod != taplinev1.TraceService_ListServices_FullMethodName {
		return handler(ctx, req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get(mdWhoAmI)) == 0 {
		return handler(ctx, req)
	}
	c, ok := query.CallerFromContext(ctx)
	if !ok {
		return nil, errors.New("ui: no caller in an authenticated call")
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs(mdCaller, encodeCaller(c))); err != nil {
		return nil, err
	}
	return &taplinev1.ListServicesResponse{}, nil
}

// encodeCaller writes the fields the UI needs as a query string (metadata
// values must be printable ASCII).
func encodeCaller(c query.Caller) string {
	v := url.Values{}
	v.Set("principal", c.Principal)
	v.Set("type", c.PrincipalType)
	v.Set("role", c.Role)
	v.Set("issuer", c.JWTIssuer)
	v.Set("subject", c.JWTSubject)
	return v.Encode()
}

func decodeCaller(s string) (query.Caller, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return query.Caller{}, err
	}
	return query.Caller{
		Principal: v.Get("principal"), PrincipalType: v.Get("type"), Role: v.Get("role"),
		JWTIssuer: v.Get("issuer"), JWTSubject: v.Get("subject"),
	}, nil
}

// callContext adds the caller's token and the page request's details to a
// context for calls to the API.
func callContext(ctx context.Context, token string, r requestInfo) context.Context {
	pairs := []string{
		mdHTTPMethod, url.QueryEscape(r.method),
		mdHTTPPath, url.QueryEscape(r.path),
		mdHTTPQuery, url.QueryEscape(r.query),
		mdHTTPProto, url.QueryEscape(r.proto),
		mdHTTPClient, url.QueryEscape(r.client),
		mdHTTPAgent, url.QueryEscape(r.userAgent),
	}
	if r.requestID != "" {
		pairs = append(pairs, mdRequestID, r.requestID)
	}
	if token != "" {
		pairs = append(pairs, mdAuthorization, "Bearer "+token)
	}
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}

// requestInfo is what the API's access record keeps of a page request.
type requestInfo struct {
	method, path, query, proto, client, userAgent, requestID string
}

func isPrintableASCII(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
}
