package query_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query/querytest"
)

func withToken(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func TestSmoke(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	resp, err := h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{Limit: 5})
	require.NoError(t, err)
	t.Logf("%v", resp)
	tl, err := h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: querytest.CheckoutTraceID})
	require.NoError(t, err)
	for _, e := range tl.GetEntries() {
		t.Logf("%s %s %s %s", e.GetTime().AsTime(), e.GetKind(), e.GetHop(), e.GetServiceName())
	}
}
