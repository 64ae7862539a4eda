package query_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/store"
)

func TestMain(m *testing.M) {
	before := goleak.IgnoreCurrent()
	code := m.Run()
	if shared.close != nil {
		shared.close()
	}
	querytest.Cleanup()
	if code == 0 {
		// chDB keeps background threads, not goroutines: anything left
		// here is ours.
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Tokens of the test configuration.
const (
	viewerToken  = "viewer-token-0123456789"
	auditorToken = "auditor-token-0123456789"
	adminToken   = "admin-token-0123456789"
)

// shared is the dataset loaded once, through the real pipeline when it is
// available, into one database that read-only tests share.
var shared struct {
	once  sync.Once
	eng   store.Engine
	close func()
	err   error
}

func sharedEngine(t *testing.T) store.Engine {
	t.Helper()
	querytest.SkipWithoutChDB(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		shared.eng, shared.close, shared.err = querytest.Open(ctx, "shared")
		if shared.err != nil {
			return
		}
		d := querytest.Build()
		shared.err = querytest.Load(t, shared.eng, d)
	})
	require.NoError(t, shared.err)
	return shared.eng
}

func testConfig() query.Config {
	cfg := query.Default()
	cfg.GRPC.Listen = "127.0.0.1:0"
	cfg.Auth.Tokens = []query.TokenConfig{
		{Name: "viewer", Token: viewerToken, Role: query.RoleViewer},
		{Name: "auditor", Token: auditorToken, Role: query.RoleAuditor},
		{Name: "admin", Token: adminToken, Role: query.RoleAdmin},
	}
	return cfg
}

// harness is a started server with a REST endpoint and a gRPC client.
type harness struct {
	srv      *query.Server
	http     *httptest.Server
	conn     *grpc.ClientConn
	traces   taplinev1.TraceServiceClient
	events   taplinev1.EventServiceClient
	pipeline taplinev1.PipelineServiceClient
}

type harnessOption func(*query.Config, *query.Options)

func startServer(t *testing.T, eng store.Engine, opts ...harnessOption) *harness {
	t.Helper()
	cfg := testConfig()
	o := query.Options{Now: func() time.Time { return querytest.Now }, Node: "test-node"}
	for _, opt := range opts {
		opt(&cfg, &o)
	}
	srv, err := query.New(cfg, eng, o)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, srv.Start(ctx))
	mux := http.NewServeMux()
	mux.Handle(query.PathPrefix, srv.Handler())
	h := &harness{srv: srv, http: httptest.NewServer(mux)}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	h.conn = conn
	h.traces = taplinev1.NewTraceServiceClient(conn)
	h.events = taplinev1.NewEventServiceClient(conn)
	h.pipeline = taplinev1.NewPipelineServiceClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		h.http.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(sctx))
	})
	return h
}

func withToken(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}
