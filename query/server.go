package query

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

// PathPrefix is where the REST API lives; Handler serves everything under
// it, OpenAPIPath included.
const (
	PathPrefix  = "/api/v1/"
	OpenAPIPath = "/api/v1/openapi.json"
)

// Metadata the gateway adds to the gRPC calls it makes; trusted only on the
// in-process connection.
const (
	mdHTTPMethod    = "x-tapline-http-method"
	mdHTTPPath      = "x-tapline-http-path"
	mdHTTPQuery     = "x-tapline-http-query"
	mdHTTPProto     = "x-tapline-http-proto"
	mdHTTPClient    = "x-tapline-http-client"
	mdHTTPAgent     = "x-tapline-http-user-agent"
	mdHTTPTLS       = "x-tapline-http-tls"
	mdRequestID     = "x-request-id"
	mdUserAgent     = "user-agent"
	mdAuthorization = "authorization"
	inProcessAddr   = "bufconn"
	maxGatewayRecv  = 256 << 20
)

// Options are the parts of a Server the binary provides.
type Options struct {
	Logger *slog.Logger
	// Recorder receives an access record per call. Nil records straight
	// into access_events through the engine (EngineSink).
	Recorder Recorder
	// Lag reports consumer lag for GetPipelineHealth; nil reports none.
	Lag LagSource
	// HTTPClient fetches the OIDC JWKS; nil uses the library's default.
	HTTPClient *http.Client
	// ServiceName and Node identify this server in access records
	// (defaults "tapline-query" and the host name).
	ServiceName, Node string
	// Now is the clock (tests pin it); nil is time.Now.
	Now func() time.Time
}

// Server is the query API: the gRPC services over a store.Engine, the
// authentication and recording interceptors, the REST gateway and the gRPC
// listener.
type Server struct {
	cfg    Config
	eng    store.Engine
	logger *slog.Logger
	now    func() time.Time
	lag    LagSource
	auth   *authenticator
	rec    Recorder
	ownRec *BatchRecorder
	opts   Options

	traces   *traceServer
	events   *eventServer
	pipeline *pipelineServer

	inproc   *grpc.Server
	bufLis   *bufconn.Listener
	gwConn   *grpc.ClientConn
	gateway  *runtime.ServeMux
	external *grpc.Server
	lis      net.Listener

	// itemIndexes is whether otel_traces has the text-index layout's
	// indexes on the attribute items, read at Start (attrCond).
	itemIndexes atomic.Bool

	mu      sync.Mutex
	started bool
	stopped bool
	wg      sync.WaitGroup
}

type traceServer struct {
	taplinev1.UnimplementedTraceServiceServer
	s *Server
}

type eventServer struct {
	taplinev1.UnimplementedEventServiceServer
	s *Server
}

type pipelineServer struct {
	taplinev1.UnimplementedPipelineServiceServer
	s *Server
}

// New builds a server; Start serves it. cfg must have passed Validate.
func New(cfg Config, eng store.Engine, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("query config: %w", err)
	}
	if eng == nil {
		return nil, errors.New("query: nil engine")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ServiceName == "" {
		opts.ServiceName = "tapline-query"
	}
	if opts.Node == "" {
		opts.Node, _ = os.Hostname()
	}
	auth, err := newAuthenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, eng: eng, logger: opts.Logger, now: func() time.Time { return opts.Now().UTC() },
		lag: opts.Lag, auth: auth, rec: opts.Recorder, opts: opts,
	}
	if s.rec == nil {
		s.ownRec = NewBatchRecorder(EngineSink(eng), BatchRecorderOptions{Logger: opts.Logger})
		s.rec = s.ownRec
	}
	s.traces, s.events, s.pipeline = &traceServer{s: s}, &eventServer{s: s}, &pipelineServer{s: s}

	s.inproc = grpc.NewServer(s.GRPCServerOptions()...)
	s.RegisterGRPC(s.inproc)
	s.bufLis = bufconn.Listen(1 << 20)
	s.gwConn, err = grpc.NewClient("passthrough:///"+inProcessAddr,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.bufLis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxGatewayRecv)),
	)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("query: gateway connection: %w", err), s.closeRecorder(context.Background()))
	}
	s.gateway = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}),
		runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
			if strings.EqualFold(key, "X-Request-Id") {
				return mdRequestID, true
			}
			return runtime.DefaultHeaderMatcher(key)
		}),
		runtime.WithMetadata(gatewayMetadata),
	)
	ctx := context.Background()
	regs := []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		taplinev1.RegisterTraceServiceHandler,
		taplinev1.RegisterEventServiceHandler,
		taplinev1.RegisterPipelineServiceHandler,
	}
	for _, reg := range regs {
		if err := reg(ctx, s.gateway, s.gwConn); err != nil {
			return nil, errors.Join(fmt.Errorf("query: register gateway: %w", err), s.gwConn.Close(), s.closeRecorder(ctx))
		}
	}
	return s, nil
}

// gatewayMetadata passes what the access record needs from the HTTP request
// to the gRPC call. Values are query-escaped: metadata must be printable
// ASCII, and paths and user agents need not be.
func gatewayMetadata(_ context.Context, r *http.Request) metadata.MD {
	proto := strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
	if r.ProtoMajor == 2 {
		proto = "2"
	}
	pairs := []string{
		mdHTTPMethod, r.Method,
		mdHTTPPath, r.URL.Path,
		mdHTTPQuery, r.URL.RawQuery,
		mdHTTPProto, proto,
		mdHTTPClient, r.RemoteAddr,
		mdHTTPAgent, r.UserAgent(),
	}
	if r.TLS != nil {
		pairs = append(pairs, mdHTTPTLS, tlsVersionName(r.TLS.Version)+" "+tls.CipherSuiteName(r.TLS.CipherSuite)+" "+strconv.FormatBool(len(r.TLS.VerifiedChains) > 0))
	}
	for i := 1; i < len(pairs); i += 2 {
		pairs[i] = url.QueryEscape(pairs[i])
	}
	return metadata.Pairs(pairs...)
}

// gatewayValue reads a value gatewayMetadata escaped.
func gatewayValue(md metadata.MD, key string) string {
	v, err := url.QueryUnescape(first(md, key))
	if err != nil {
		return ""
	}
	return v
}

// RegisterGRPC registers the API's services on gs. Create gs with
// GRPCServerOptions so that calls are authenticated and recorded.
func (s *Server) RegisterGRPC(gs *grpc.Server) {
	taplinev1.RegisterTraceServiceServer(gs, s.traces)
	taplinev1.RegisterEventServiceServer(gs, s.events)
	taplinev1.RegisterPipelineServiceServer(gs, s.pipeline)
}

// GRPCServerOptions are the interceptors of the API: panic recovery,
// authentication, authorization by role, the request timeout and the access
// record. Methods outside tapline.v1 pass through untouched.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	}
}

// Handler serves the REST API and the OpenAPI document under PathPrefix.
// Mount it on the UI listener: mux.Handle(query.PathPrefix, srv.Handler()).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OpenAPIPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(taplinev1.OpenAPI)
	})
	mux.Handle(PathPrefix, s.gateway)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ready := s.started && !s.stopped
		s.mu.Unlock()
		if !ready {
			http.Error(w, `{"code":14,"message":"query API not started","details":[]}`, http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Start serves the in-process gRPC server behind the gateway and, when
// configured, the gRPC listener. It returns once they listen.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("query: already started")
	}
	if s.stopped {
		return errors.New("query: shut down")
	}
	if err := s.auth.start(ctx, s.opts.HTTPClient); err != nil {
		return err
	}
	s.detectItemIndexes(ctx)
	if s.cfg.GRPC.Listen != "" {
		tlsCfg, err := s.cfg.GRPC.TLS.Load()
		if err != nil {
			return errors.Join(fmt.Errorf("query: grpc.tls: %w", err), s.auth.stop(ctx))
		}
		lis, err := net.Listen("tcp", s.cfg.GRPC.Listen)
		if err != nil {
			return errors.Join(fmt.Errorf("query: listen %s: %w", s.cfg.GRPC.Listen, err), s.auth.stop(ctx))
		}
		opts := s.GRPCServerOptions()
		if tlsCfg != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
		}
		s.external = grpc.NewServer(opts...)
		s.RegisterGRPC(s.external)
		s.lis = lis
		s.serve("grpc", func() error { return s.external.Serve(lis) })
		s.logger.Info("query gRPC API listening", "addr", lis.Addr().String(), "tls", tlsCfg != nil)
	}
	s.serve("gateway", func() error { return s.inproc.Serve(s.bufLis) })
	s.started = true
	return nil
}

func (s *Server) serve(name string, fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.logger.Error("query server stopped", "server", name, "err", err)
		}
	}()
}

// ClientConn is an in-process connection to the API for other parts of the
// binary (the UI): calls go through the same interceptors, so they carry
// the caller's "authorization" metadata and are recorded. It works between
// Start and Shutdown.
func (s *Server) ClientConn() grpc.ClientConnInterface { return s.gwConn }

// GRPCAddr is the address the gRPC listener listens on, or "" when it does
// not run.
func (s *Server) GRPCAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// Shutdown stops the listeners (letting running calls finish until ctx
// ends), flushes the access records and releases the OIDC key cache. Safe
// before Start and twice. It does not close the engine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	started := s.started
	s.mu.Unlock()

	stopGRPC := func(gs *grpc.Server) {
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			gs.Stop()
			<-done
		}
	}
	if started {
		if s.external != nil {
			stopGRPC(s.external)
		}
		stopGRPC(s.inproc)
	} else {
		s.inproc.Stop()
	}
	s.wg.Wait()
	errs := []error{s.gwConn.Close(), s.bufLis.Close(), s.auth.stop(ctx), s.closeRecorder(ctx)}
	if started {
		s.logger.Info("query API stopped")
	}
	return errors.Join(errs...)
}

func (s *Server) closeRecorder(ctx context.Context) error {
	if s.ownRec == nil {
		return nil
	}
	return s.ownRec.Close(ctx)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, "/tapline.v1.") {
		return status.Error(codes.Unimplemented, "the query API has no streaming methods")
	}
	return handler(srv, ss)
}

// unaryInterceptor authenticates, authorizes, bounds and records each call.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	if !strings.HasPrefix(info.FullMethod, "/tapline.v1.") {
		return handler(ctx, req)
	}
	start := s.now()
	rec := s.describeCall(ctx, info.FullMethod)
	rec.Time = start
	defer func() {
		if p := recover(); p != nil {
			s.logger.ErrorContext(ctx, "query API panic", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "internal error")
		}
		code := status.Code(err)
		rec.Duration = s.now().Sub(start)
		rec.GRPCCode = int(code)
		rec.Status = runtime.HTTPStatusFromCode(code)
		if rec.Decision == "" {
			rec.Decision = event.DecisionAllow
		}
		s.rec.Record(rec)
	}()

	md, _ := metadata.FromIncomingContext(ctx)
	caller, reason, err := s.auth.authenticate(ctx, first(md, mdAuthorization))
	rec.Caller, rec.Reason = caller, reason
	if err != nil {
		rec.Decision = event.DecisionDeny
		return nil, err
	}
	if err := authorize(caller, info.FullMethod); err != nil {
		rec.Decision, rec.Reason = event.DecisionDeny, reasonRoleTooLow
		return nil, err
	}
	ctx = context.WithValue(ctx, callerKey{}, caller)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, err = handler(ctx, req)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			err = engineError(ctx, s.logger, info.FullMethod, err)
		}
	}
	return resp, err
}

// describeCall fills the parts of the access record known before the call.
// The gateway's metadata is trusted only on the in-process connection.
func (s *Server) describeCall(ctx context.Context, fullMethod string) AccessRecord {
	md, _ := metadata.FromIncomingContext(ctx)
	rec := AccessRecord{
		ServiceName: s.opts.ServiceName, Node: s.opts.Node,
		Route: fullMethod, Method: http.MethodPost, Path: fullMethod, Protocol: "grpc",
		RequestID: first(md, mdRequestID), UserAgent: first(md, mdUserAgent),
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		rec.TraceID, rec.SpanID = sc.TraceID().String(), sc.SpanID().String()
	}
	p, _ := peer.FromContext(ctx)
	inProcess := p != nil && p.Addr != nil && p.Addr.String() == inProcessAddr
	if inProcess && first(md, mdHTTPMethod) != "" {
		rec.Method, rec.Path, rec.Query = gatewayValue(md, mdHTTPMethod), gatewayValue(md, mdHTTPPath), gatewayValue(md, mdHTTPQuery)
		rec.Protocol, rec.UserAgent = gatewayValue(md, mdHTTPProto), gatewayValue(md, mdHTTPAgent)
		rec.ClientAddress, rec.ClientPort = splitAddr(gatewayValue(md, mdHTTPClient))
		if t := strings.Fields(gatewayValue(md, mdHTTPTLS)); len(t) == 3 {
			rec.TLSVersion, rec.TLSCipher, rec.MTLSVerified = t[0], t[1], t[2] == "true"
		}
	} else if p != nil && p.Addr != nil && !inProcess {
		rec.ClientAddress, rec.ClientPort = splitAddr(p.Addr.String())
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			rec.TLSVersion = tlsVersionName(ti.State.Version)
			rec.TLSCipher = tls.CipherSuiteName(ti.State.CipherSuite)
			rec.MTLSVerified = len(ti.State.VerifiedChains) > 0
			if len(ti.State.PeerCertificates) > 0 {
				rec.PeerSubject = ti.State.PeerCertificates[0].Subject.String()
			}
		}
	}
	if len(rec.Path) > maxValueLen {
		rec.Path = rec.Path[:maxValueLen]
	}
	if len(rec.Query) > maxValueLen {
		rec.Query = rec.Query[:maxValueLen]
	}
	if rec.RequestID == "" || len(rec.RequestID) > maxIDLen {
		rec.RequestID = newRequestID()
	}
	return rec
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func splitAddr(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// tlsVersionName writes a TLS version as the conventions do: "1.3".
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return ""
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// detectItemIndexes reads whether otel_traces (its local table on a
// cluster) has the text layout's indexes on the attribute items, which
// decides how attribute filters are written. Without an answer filters are
// written for the bloom layout, which is correct on either.
func (s *Server) detectItemIndexes(ctx context.Context) {
	const sql = "SELECT count() FROM system.data_skipping_indices WHERE database = currentDatabase()" +
		" AND table IN ('otel_traces', 'otel_traces_local') AND name = 'idx_span_attr_items'"
	var n uint64
	err := s.each(ctx, "read skip indexes", sql, nil, func(r store.Rows) error { return r.Scan(&n) })
	if err != nil {
		s.logger.WarnContext(ctx, "query: cannot tell the skip-index layout of otel_traces; attribute filters assume bloom filters", "error", err)
		return
	}
	s.itemIndexes.Store(n > 0)
}
