package query_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
)

func traceIDs(ts []*taplinev1.TraceSummary) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.GetTraceId())
	}
	return ids
}

// pageTraces follows next_cursor until the last page.
func pageTraces(t *testing.T, ctx context.Context, h *harness, req *taplinev1.SearchTracesRequest, between func(page int)) [][]string {
	t.Helper()
	var pages [][]string
	for page := 0; ; page++ {
		resp, err := h.traces.SearchTraces(ctx, req)
		require.NoError(t, err)
		require.LessOrEqual(t, len(resp.GetTraces()), int(req.GetLimit()))
		pages = append(pages, traceIDs(resp.GetTraces()))
		if resp.GetNextCursor() == "" {
			return pages
		}
		require.Len(t, resp.GetTraces(), int(req.GetLimit()), "only the last page may be short")
		require.Less(t, page, 100, "pagination does not end")
		if between != nil {
			between(page)
		}
		req.Cursor = resp.GetNextCursor()
	}
}

func flatten(pages [][]string) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

// TestTracePagination pages through the hour four traces at a time: the
// pages together hold every trace once, in the order of one big page,
// including the two traces that tie on time.
func TestTracePagination(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	start, end := timestamppb.New(querytest.Base), timestamppb.New(querytest.Now)
	all, err := h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{StartTime: start, EndTime: end, Limit: 1000})
	require.NoError(t, err)
	want := traceIDs(all.GetTraces())
	require.Len(t, want, querytest.Background+3)
	require.Empty(t, all.GetNextCursor())

	for _, limit := range []int32{1, 4, 7, 33} {
		pages := pageTraces(t, ctx, h, &taplinev1.SearchTracesRequest{StartTime: start, EndTime: end, Limit: limit}, nil)
		require.Equal(t, want, flatten(pages), "limit %d", limit)
	}
	// Filters hold across pages.
	gold := flatten(pageTraces(t, ctx, h, &taplinev1.SearchTracesRequest{
		ServiceName: "catalog", Attributes: []string{"customer.tier=gold"}, StartTime: start, EndTime: end, Limit: 3}, nil))
	require.Len(t, gold, 10)
	require.Contains(t, gold, querytest.BackgroundTraceID(0))
	require.NotContains(t, gold, querytest.BackgroundTraceID(1))

	// A cursor is bound to its filters.
	first, err := h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{StartTime: start, EndTime: end, Limit: 2})
	require.NoError(t, err)
	_, err = h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{ServiceName: "orders", StartTime: start, EndTime: end, Limit: 2, Cursor: first.GetNextCursor()})
	requireViolation(t, err, "cursor")
	// The page size may change between pages.
	second, err := h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{StartTime: start, EndTime: end, Limit: 5, Cursor: first.GetNextCursor()})
	require.NoError(t, err)
	require.Equal(t, want[2:7], traceIDs(second.GetTraces()))

	// REST pages the same way.
	var rest []string
	q := url.Values{"startTime": {ts(querytest.Base)}, "endTime": {ts(querytest.Now)}, "limit": {"6"}}
	for range 20 {
		code, body := restGet(t, h, viewerToken, "/traces", q)
		require.Equal(t, 200, code, "%s", body)
		var resp taplinev1.SearchTracesResponse
		require.NoError(t, protojson.Unmarshal(body, &resp))
		rest = append(rest, traceIDs(resp.GetTraces())...)
		if resp.GetNextCursor() == "" {
			break
		}
		q.Set("cursor", resp.GetNextCursor())
	}
	require.Equal(t, want, rest)
}

// TestPaginationWhileDataArrives: data that arrives between pages neither
// shifts nor duplicates the pages of a search that left end_time to "now";
// the cursor pins the window of the first page.
func TestPaginationWhileDataArrives(t *testing.T) {
	eng := querytest.OpenEngine(t)
	require.NoError(t, querytest.Load(t, eng, querytest.Build()))
	now := querytest.Now
	h := startServer(t, eng, func(_ *query.Config, o *query.Options) {
		o.Now = func() time.Time { return now }
	})
	ctx := withToken(viewerToken)
	all, err := h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{Limit: 1000})
	require.NoError(t, err)
	want := traceIDs(all.GetTraces())

	late := querytest.Later(querytest.Build(), time.Hour)
	pages := pageTraces(t, ctx, h, &taplinev1.SearchTracesRequest{Limit: 5}, func(page int) {
		if page != 0 {
			return
		}
		// New traces arrive, newer than everything, and the clock moves.
		require.NoError(t, querytest.InsertRows(context.Background(), eng, late.Traces, late.Events))
		now = now.Add(time.Hour)
	})
	require.Equal(t, want, flatten(pages))
}

// TestEventPagination pages through the access events.
func TestEventPagination(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	start, end := timestamppb.New(querytest.Base), timestamppb.New(querytest.Now)
	all, err := h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{StartTime: start, EndTime: end, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, all.GetEvents(), querytest.Background+7)
	// Events come newest first; those sharing a timestamp in no
	// particular order, so keys sort ties by source and request id.
	key := func(e *taplinev1.AccessEvent) string {
		return fmt.Sprintf("%020d %s %s", math.MaxInt64-e.GetTime().AsTime().UnixNano(), e.GetSource(), e.GetRequestId())
	}
	var want []string
	for _, e := range all.GetEvents() {
		want = append(want, key(e))
	}
	require.True(t, slices.IsSortedFunc(want, func(a, b string) int { return strings.Compare(a[:20], b[:20]) }), "newest first")
	slices.Sort(want)
	for _, limit := range []int32{1, 6, 36} {
		var got []string
		req := &taplinev1.SearchEventsRequest{StartTime: start, EndTime: end, Limit: limit}
		for range 100 {
			resp, err := h.events.SearchEvents(ctx, req)
			require.NoError(t, err)
			for _, e := range resp.GetEvents() {
				got = append(got, key(e))
			}
			if resp.GetNextCursor() == "" {
				break
			}
			req.Cursor = resp.GetNextCursor()
		}
		require.True(t, slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(a[:20], b[:20]) }), "newest first across pages")
		slices.Sort(got)
		require.Equal(t, want, got, "limit %d: every event once", limit)
	}
}
