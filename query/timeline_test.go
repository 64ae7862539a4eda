package query_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/query/querytest"
)

// TestRequestTimelineAllHops follows the checkout request, which went
// nginx → tap → app and on to payments, by request id and by trace id: both
// give one timeline with every hop, in path and time order.
func TestRequestTimelineAllHops(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	byRequest, err := h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: querytest.CheckoutRequestID})
	require.NoError(t, err)
	byTrace, err := h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: querytest.CheckoutTraceID})
	require.NoError(t, err)

	for name, tl := range map[string]*taplinev1.Timeline{"by request id": byRequest, "by trace id": byTrace} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, []string{querytest.CheckoutTraceID}, tl.GetTraceIds())
			require.Equal(t, []string{querytest.CheckoutRequestID}, tl.GetRequestIds())
			var hops []string
			for _, hop := range tl.GetHops() {
				hops = append(hops, hop.GetSource())
			}
			require.Equal(t, []string{event.SourceNginx, event.SourceTap, event.SourceApp}, hops)

			var kinds, spans []string
			for i, e := range tl.GetEntries() {
				kinds = append(kinds, e.GetKind()+":"+e.GetHop())
				if i > 0 {
					prev := tl.GetEntries()[i-1].GetTime().AsTime()
					require.False(t, e.GetTime().AsTime().Before(prev), "entries out of time order at %d", i)
				}
				if sp := e.GetSpan(); sp != nil {
					spans = append(spans, sp.GetName())
				}
			}
			require.Equal(t, []string{
				"access:nginx", "tls:tap", "access:tap", "span:tap", "access:app", "span:app", "span:", "span:",
			}, kinds)
			require.Equal(t, []string{"tap POST /checkout", "POST /checkout", "SELECT orders", "charge card"}, spans)
			require.EqualValues(t, 4, tl.GetSpanCount())
			tlsEntry := tl.GetEntries()[1].GetTls()
			require.Equal(t, querytest.CheckoutConnID, tlsEntry.GetConnectionId())
			require.True(t, tlsEntry.GetMtlsVerified())
			require.Equal(t, querytest.FrontendSPIFFE, tlsEntry.GetPeer().GetSpiffeId())
			require.Equal(t, []int32{-1, -1, -1, 0, -1, 1, 2, 2}, depths(tl))
		})
	}
}

func depths(tl *taplinev1.Timeline) []int32 {
	var out []int32
	for _, e := range tl.GetEntries() {
		out = append(out, e.GetDepth())
	}
	return out
}

func TestTimelineNotFound(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	_, err := h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: "0123456789abcdef0123456789abcdef"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	_, err = h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: "no-such-request"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
	code, body := restGet(t, h, viewerToken, "/traces/0123456789abcdef0123456789abcdef", nil)
	require.Equal(t, http.StatusNotFound, code, "%s", body)
}

// A trace whose hops do not all carry both ids: the nginx hop has only the
// request id, a worker's hop only the trace id. The id lookup names the
// request of the trace, the trace of the request and the tap's TLS
// connection, and both ways give every hop.
func TestTimelineHopsWithOneID(t *testing.T) {
	eng := querytest.OpenEngine(t)
	h := startServer(t, eng)
	ctx := context.Background()
	const (
		trace   = "5af7651916cd43dd8448eb211c80319c"
		request = "req-one-id"
		conn    = "conn-one-id"
	)
	at := querytest.Base.Add(20 * time.Minute)
	spans, err := eng.PrepareBatch(ctx, "otel_traces", []string{"Timestamp", "TraceId", "SpanId", "ServiceName", "SpanName", "Duration"})
	require.NoError(t, err)
	require.NoError(t, spans.Append(at.Add(2*time.Millisecond), trace, "b7ad6b7169203331", "orders", "POST /orders", uint64(5e6)))
	require.NoError(t, spans.Send(ctx))
	events, err := eng.PrepareBatch(ctx, "access_events", []string{"Timestamp", "Source", "ServiceName", "RequestId", "TraceId", "ConnectionId", "Path"})
	require.NoError(t, err)
	require.NoError(t, events.Append(at, event.SourceNginx, "edge", request, "", "", "/orders"))
	require.NoError(t, events.Append(at.Add(time.Millisecond), event.SourceTap, "orders", request, trace, conn, "/orders"))
	require.NoError(t, events.Append(at.Add(3*time.Second), event.SourceApp, "worker", "", trace, "", "/jobs/ship"))
	require.NoError(t, events.Send(ctx))
	tls, err := eng.PrepareBatch(ctx, "tls_connections", []string{"Timestamp", "Source", "ServiceName", "ConnectionId", "Established", "TlsVersion"})
	require.NoError(t, err)
	require.NoError(t, tls.Append(at.Add(-time.Minute), event.SourceTap, "orders", conn, true, "1.3"))
	require.NoError(t, tls.Send(ctx))

	vctx := withToken(viewerToken)
	byTrace, err := h.traces.GetTrace(vctx, &taplinev1.GetTraceRequest{TraceId: trace})
	require.NoError(t, err)
	byRequest, err := h.traces.GetRequest(vctx, &taplinev1.GetRequestRequest{RequestId: request})
	require.NoError(t, err)
	for name, tl := range map[string]*taplinev1.Timeline{"by trace id": byTrace, "by request id": byRequest} {
		t.Run(name, func(t *testing.T) {
			var kinds []string
			for _, e := range tl.GetEntries() {
				what := e.GetKind() + ":" + e.GetHop()
				if a := e.GetAccess(); a != nil {
					what += ":" + a.GetPath()
				}
				kinds = append(kinds, what)
			}
			require.Equal(t, []string{"tls:tap", "access:nginx:/orders", "access:tap:/orders", "span:", "access:app:/jobs/ship"}, kinds)
			require.Equal(t, []string{trace}, tl.GetTraceIds())
			require.Equal(t, []string{request}, tl.GetRequestIds())
			require.False(t, tl.GetTruncated())
		})
	}
}

// TestTimelineCopiesMatchSource reads timelines from the copies by id that
// ingest writes (migration 0016), then with the copies emptied, from the
// source tables, as for rows stored before the copies on a cluster: both
// give the same timelines.
func TestTimelineCopiesMatchSource(t *testing.T) {
	eng := querytest.OpenEngine(t)
	require.NoError(t, querytest.Load(t, eng, querytest.Build()))
	h := startServer(t, eng)
	ctx := withToken(viewerToken)
	timelines := func() map[string]*taplinev1.Timeline {
		out := map[string]*taplinev1.Timeline{}
		for _, id := range []string{querytest.CheckoutTraceID, querytest.DeniedTraceID, querytest.MeshTraceID,
			querytest.BackgroundTraceID(0), querytest.BackgroundTraceID(7)} {
			tl, err := h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: id})
			require.NoError(t, err, "trace %s", id)
			out["trace "+id] = tl
		}
		for _, id := range []string{querytest.CheckoutRequestID, querytest.DeniedRequestID, querytest.MeshRequestID} {
			tl, err := h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: id})
			require.NoError(t, err, "request %s", id)
			out["request "+id] = tl
		}
		return out
	}
	copies := []string{"otel_traces_by_id", "access_events_by_id", "tls_connections_by_id"}
	for _, table := range copies { // the checkout request's rows are there to read
		n, err := ingesttest.CountWhere(context.Background(), eng, table,
			"Id IN ('"+querytest.CheckoutTraceID+"', '"+querytest.CheckoutRequestID+"', '"+querytest.CheckoutConnID+"')")
		require.NoError(t, err)
		require.NotZero(t, n, "checkout rows in %s", table)
	}
	fromCopies := timelines()
	require.Len(t, fromCopies["trace "+querytest.CheckoutTraceID].GetEntries(), 8)
	for _, table := range copies {
		require.NoError(t, eng.Exec(context.Background(), "TRUNCATE TABLE "+table, nil))
	}
	fromSource := timelines()
	for name, tl := range fromCopies {
		require.True(t, proto.Equal(tl, fromSource[name]), "%s:\ncopies %v\nsource %v", name, tl, fromSource[name])
	}
}
