package query_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
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
