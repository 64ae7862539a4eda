package query_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
)

// TestStartShutdownTwice: a server starts and stops twice in a row (two
// servers on one engine), Shutdown is safe before Start and twice, and the
// REST handler answers 503 unless the server runs.
func TestStartShutdownTwice(t *testing.T) {
	eng := sharedEngine(t)
	ctx := context.Background()
	for range 2 {
		cfg := testConfig()
		srv, err := query.New(cfg, eng, query.Options{})
		require.NoError(t, err)
		web := httptest.NewServer(srv.Handler())
		res, err := http.Get(web.URL + query.OpenAPIPath)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "before Start")

		require.NoError(t, srv.Start(ctx))
		require.Error(t, srv.Start(ctx), "a second Start is refused")
		require.NotEmpty(t, srv.GRPCAddr())
		res, err = http.Get(web.URL + query.OpenAPIPath)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "application/json", res.Header.Get("Content-Type"))
		var doc map[string]any
		require.NoError(t, json.Unmarshal(body, &doc))
		require.Equal(t, "2.0", doc["swagger"])

		res, err = http.Get(web.URL + "/api/v1/no-such-thing")
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusNotFound, res.StatusCode)

		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		require.NoError(t, srv.Shutdown(sctx))
		require.NoError(t, srv.Shutdown(sctx), "second Shutdown")
		cancel()
		res, err = http.Get(web.URL + query.OpenAPIPath)
		require.NoError(t, err)
		_ = res.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "after Shutdown")
		web.Close()
	}
	srv, err := query.New(testConfig(), eng, query.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown(ctx), "Shutdown before Start")
	require.Error(t, srv.Start(ctx), "no Start after Shutdown")
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := query.Default()
	cfg.MaxLimit = 0
	_, err := query.New(cfg, sharedEngine(t), query.Options{})
	require.ErrorContains(t, err, "max_limit")
}

// TestLogsSinkThroughIngest: access records published as OTLP logs (the
// binary's wiring) come out of ingest as access events with source api.
func TestLogsSinkThroughIngest(t *testing.T) {
	eng := querytest.OpenEngine(t)
	p := querytest.StartPipeline(t, eng)
	rec := query.NewBatchRecorder(query.LogsSink(func(_ context.Context, ld plog.Logs) error {
		p.PublishEvents(ld)
		return nil
	}), query.BatchRecorderOptions{FlushInterval: 50 * time.Millisecond})
	now := time.Now().UTC()
	h := startServer(t, eng, func(_ *query.Config, o *query.Options) {
		o.Recorder = rec
		o.Now = func() time.Time { return now }
	})
	call(t, h, "Bearer "+auditorToken, "GetIdentities")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, rec.Close(ctx))
	require.Zero(t, rec.Dropped())
	require.NoError(t, p.Wait(ctx))

	resp, err := h.events.SearchEvents(withToken(viewerToken), &taplinev1.SearchEventsRequest{
		Sources: []string{"api"}, StartTime: timestamppb.New(now.Add(-time.Minute)), EndTime: timestamppb.New(now.Add(time.Second))})
	require.NoError(t, err)
	require.Len(t, resp.GetEvents(), 2, "the gRPC and the REST call")
	for _, e := range resp.GetEvents() {
		require.Equal(t, "token:auditor", e.GetIdentity().GetPrincipal())
		require.Equal(t, query.PrincipalTypeToken, e.GetIdentity().GetPrincipalType())
		require.Equal(t, "allow", e.GetDecision())
		require.Equal(t, "query.auth", e.GetPolicy())
		require.EqualValues(t, 200, e.GetStatus())
		require.Equal(t, taplinev1.EventService_GetIdentities_FullMethodName, e.GetRoute())
		require.Equal(t, "auditor", e.GetAttributes()["tapline.role"])
	}
	require.EqualValues(t, 1, rec.Dropped(), "the search itself came after Close")
}

// TestClientConn: the in-process connection the UI uses authenticates and
// answers like the listeners.
func TestClientConn(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	traces := taplinev1.NewTraceServiceClient(h.srv.ClientConn())
	_, err := traces.ListServices(context.Background(), &taplinev1.ListServicesRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	resp, err := traces.ListServices(withToken(viewerToken), &taplinev1.ListServicesRequest{
		StartTime: timestamppb.New(querytest.Base), EndTime: timestamppb.New(querytest.Now)})
	require.NoError(t, err)
	require.Len(t, resp.GetServices(), 6)
}
