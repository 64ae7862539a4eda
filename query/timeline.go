package query

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

// A timeline follows ids from spans to access events and back a few times,
// and never further than these caps.
const (
	maxTimelineRounds   = 4
	maxTimelineTraces   = 16
	maxTimelineRequests = 64
)

// Entry kinds of a timeline.
const (
	kindSpan   = "span"
	kindAccess = "access"
	kindTLS    = "tls"
)

// hopRank orders the hops of a request along its path.
func hopRank(source string) int {
	switch source {
	case event.SourceNginx:
		return 1
	case event.SourceMesh:
		return 2
	case event.SourceTap:
		return 3
	case event.SourceApp:
		return 4
	case event.SourceAPI:
		return 5
	}
	return 6
}

// GetTrace implements taplinev1.TraceServiceServer.
func (t *traceServer) GetTrace(ctx context.Context, req *taplinev1.GetTraceRequest) (*taplinev1.Timeline, error) {
	var v violations
	id := normTraceID(&v, "trace_id", req.GetTraceId())
	if err := v.err(); err != nil {
		return nil, err
	}
	c := newCollection(false)
	c.addTrace(id)
	if err := t.s.collect(ctx, c); err != nil {
		return nil, err
	}
	if len(c.spans) == 0 && len(c.events) == 0 {
		return nil, status.Errorf(codes.NotFound, "trace %s not found", id)
	}
	return c.timeline(), nil
}

// GetRequest implements taplinev1.TraceServiceServer.
func (t *traceServer) GetRequest(ctx context.Context, req *taplinev1.GetRequestRequest) (*taplinev1.Timeline, error) {
	var v violations
	id := req.GetRequestId()
	if id == "" {
		v.add("request_id", "required")
	}
	checkText(&v, "request_id", id, maxIDLen)
	if err := v.err(); err != nil {
		return nil, err
	}
	c := newCollection(true)
	c.addRequest(id)
	if err := t.s.collect(ctx, c); err != nil {
		return nil, err
	}
	if len(c.events) == 0 && len(c.spans) == 0 {
		return nil, status.Errorf(codes.NotFound, "request %q not found", id)
	}
	return c.timeline(), nil
}

// collection gathers what belongs to one request.
type collection struct {
	// followTraces loads the spans of every trace the request's events
	// name, not only the seed trace's.
	followTraces bool
	traceIDs     []string
	requestIDs   []string
	spansLoaded  map[string]bool
	eventsByID   map[string]bool // ids whose access events were loaded
	connsLoaded  map[string]bool
	tlsKeys      map[string]bool
	spans        []*taplinev1.Span
	events       []*taplinev1.AccessEvent
	eventKeys    map[string]bool
	tls          []*taplinev1.TlsConnection
	truncated    bool
}

func newCollection(followTraces bool) *collection {
	return &collection{
		followTraces: followTraces,
		spansLoaded:  map[string]bool{},
		eventsByID:   map[string]bool{},
		connsLoaded:  map[string]bool{},
		tlsKeys:      map[string]bool{},
		eventKeys:    map[string]bool{},
	}
}

func (c *collection) addTrace(id string) {
	if id == "" || slices.Contains(c.traceIDs, id) {
		return
	}
	if len(c.traceIDs) >= maxTimelineTraces {
		c.truncated = true
		return
	}
	c.traceIDs = append(c.traceIDs, id)
}

func (c *collection) addRequest(id string) {
	if id == "" || slices.Contains(c.requestIDs, id) {
		return
	}
	if len(c.requestIDs) >= maxTimelineRequests {
		c.truncated = true
		return
	}
	c.requestIDs = append(c.requestIDs, id)
}

// collect loads spans, access events and TLS connections, following trace
// ids, request ids and connection ids between them. Each round reads what
// the last one named, its queries in parallel.
func (s *Server) collect(ctx context.Context, c *collection) error {
	for range maxTimelineRounds {
		var traces, traceIDs, requestIDs, conns []string
		for i, id := range c.traceIDs {
			if !c.spansLoaded[id] && (i == 0 || c.followTraces) {
				traces = append(traces, id)
				c.spansLoaded[id] = true
			}
			if !c.eventsByID["t:"+id] {
				traceIDs = append(traceIDs, id)
				c.eventsByID["t:"+id] = true
			}
		}
		for _, id := range c.requestIDs {
			if !c.eventsByID["r:"+id] {
				requestIDs = append(requestIDs, id)
				c.eventsByID["r:"+id] = true
			}
		}
		for _, e := range c.events {
			if id := e.GetConnectionId(); id != "" && !c.connsLoaded[id] {
				conns = append(conns, id)
				c.connsLoaded[id] = true
			}
		}
		if len(traces)+len(traceIDs)+len(requestIDs)+len(conns) == 0 {
			return nil
		}
		b, err := s.lookupBounds(ctx, traces, append(slices.Clone(traceIDs), requestIDs...))
		if err != nil {
			return err
		}
		var (
			spans   []*taplinev1.Span
			events  []*taplinev1.AccessEvent
			tls     []*taplinev1.TlsConnection
			limited [3]bool
		)
		err = parallel(
			func() (err error) {
				spans, limited[0], err = s.loadSpans(ctx, traces, b.spans, s.cfg.MaxTimelineSpans-len(c.spans))
				return err
			},
			func() (err error) {
				events, limited[1], err = s.loadEvents(ctx, traceIDs, requestIDs, b.events, s.cfg.MaxTimelineSpans-len(c.events))
				return err
			},
			func() (err error) {
				tls, limited[2], err = s.loadTLS(ctx, conns, c.events, s.cfg.MaxTimelineSpans)
				return err
			},
		)
		if err != nil {
			return err
		}
		c.truncated = c.truncated || limited[0] || limited[1] || limited[2]
		for _, sp := range spans {
			c.spans = append(c.spans, sp)
			if rid := sp.GetAttributes()[event.AttrRequestID]; rid != "" {
				c.addRequest(rid)
			}
		}
		for _, e := range events {
			key := strings.Join([]string{e.GetTime().AsTime().Format(time.RFC3339Nano), e.GetSource(), e.GetServiceName(),
				e.GetNode(), e.GetRequestId(), e.GetTraceId(), e.GetSpanId(), e.GetConnectionId(), e.GetPath()}, "\x00")
			if c.eventKeys[key] {
				continue
			}
			c.eventKeys[key] = true
			c.events = append(c.events, e)
			c.addTrace(e.GetTraceId())
			c.addRequest(e.GetRequestId())
			// The query read the events of every request and trace its
			// seeds' events name. Their connections are read next round.
			c.eventsByID["t:"+e.GetTraceId()] = true
			c.eventsByID["r:"+e.GetRequestId()] = true
		}
		for _, conn := range tls {
			if !c.tlsKeys[conn.GetConnectionId()+"\x00"+conn.GetTime().AsTime().String()] {
				c.tlsKeys[conn.GetConnectionId()+"\x00"+conn.GetTime().AsTime().String()] = true
				c.tls = append(c.tls, conn)
			}
		}
	}
	return nil
}

// idBounds are the time ranges the lookup tables give for a round's ids;
// a nil window means none of the ids is known.
type idBounds struct {
	spans, events *window
}

// lookupBounds reads, in one query, the time range of the given traces from
// otel_traces_trace_id_ts and that of the given trace and request ids from
// access_events_id_ts. The span range ends a second after End (End is
// rounded down to the second); the event range is widened by idSlack on both
// sides, since hops are recorded by machines whose clocks differ.
func (s *Server) lookupBounds(ctx context.Context, traces, ids []string) (idBounds, error) {
	var b idBounds
	st := newStmt()
	var parts []string
	if len(traces) > 0 {
		parts = append(parts, "SELECT 'spans' AS T, toDateTime64(min(Start), 9, 'UTC') AS S, toDateTime64(max(End), 9, 'UTC') AS E, count() AS N"+
			" FROM otel_traces_trace_id_ts WHERE TraceId IN "+st.strs(traces))
	}
	if len(ids) > 0 {
		parts = append(parts, "SELECT 'events' AS T, min(Start) AS S, max(End) AS E, count() AS N FROM access_events_id_ts WHERE Id IN "+st.strs(ids))
	}
	if len(parts) == 0 {
		return b, nil
	}
	err := s.each(ctx, "look up ids", strings.Join(parts, "\nUNION ALL\n"), st.params, func(r store.Rows) error {
		var (
			which string
			w     window
			n     uint64
		)
		if err := r.Scan(&which, &w.start, &w.end, &n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		switch which {
		case "spans":
			w.end = w.end.Add(time.Second)
			b.spans = &w
		case "events":
			w.start, w.end = w.start.Add(-idSlack), w.end.Add(idSlack)
			b.events = &w
		}
		return nil
	})
	return b, err
}

// loadSpans reads the spans of the given traces within w, at most limit of
// them.
func (s *Server) loadSpans(ctx context.Context, ids []string, w *window, limit int) ([]*taplinev1.Span, bool, error) {
	if len(ids) == 0 || w == nil {
		return nil, false, nil
	}
	if limit <= 0 {
		return nil, true, nil
	}
	st := newStmt()
	sql := "SELECT " + spanColumns + "\nFROM otel_traces\nWHERE TraceId IN " + st.strs(ids) + "\n  AND " + st.inTime("Timestamp", *w) +
		"\nORDER BY Timestamp, SpanId\nLIMIT " + st.u32(uint32(limit+1))
	var spans []*taplinev1.Span
	truncated := false
	err := s.each(ctx, "read spans", sql, st.params, func(r store.Rows) error {
		if len(spans) == limit {
			truncated = true
			return nil
		}
		sp, err := scanSpan(r)
		if err != nil {
			return err
		}
		spans = append(spans, sp)
		return nil
	})
	return spans, truncated, err
}

// requestClosure are the conditions that select the access events of the
// given trace and request ids and, one step further, those of the requests
// and traces these events name: a trace's events give the request ids that
// find the Nginx hop, a request's events give the trace id that finds the
// app's hop. inner keeps the inner reads within the ids' time range. Each
// condition tests one column, so that its skip index applies: the reads
// run as a UNION ALL, not as one OR.
//
// An event of the given traces that has a request id is also an event of
// that request, so the request branch finds it; the trace branch keeps only
// the events without a request id (and the request branch only those
// without a trace id), so that no hop's granule is read twice. On a trace
// of three hops that is three granules of access_events instead of five.
func requestClosure(st *stmt, traceIDs, requestIDs []string, inner string) []string {
	var conds []string
	if len(traceIDs) > 0 {
		t := st.strs(traceIDs)
		conds = append(conds, "TraceId IN "+t+" AND RequestId = ''",
			"RequestId IN (SELECT RequestId FROM access_events WHERE TraceId IN "+t+" AND "+inner+" AND RequestId != '')")
	}
	if len(requestIDs) > 0 {
		r := st.strs(requestIDs)
		conds = append(conds, "RequestId IN "+r+" AND TraceId = ''",
			"TraceId IN (SELECT TraceId FROM access_events WHERE RequestId IN "+r+" AND "+inner+" AND TraceId != '')")
	}
	return conds
}

// loadEvents reads the access events of the given trace and request ids,
// and of the requests and traces they name, within w, at most limit of
// them.
func (s *Server) loadEvents(ctx context.Context, traceIDs, requestIDs []string, w *window, limit int) ([]*taplinev1.AccessEvent, bool, error) {
	if len(traceIDs)+len(requestIDs) == 0 || w == nil {
		return nil, false, nil
	}
	if limit <= 0 {
		return nil, true, nil
	}
	st := newStmt()
	bounds := st.inBucketedTime(*w)
	var parts []string
	for _, cond := range requestClosure(st, traceIDs, requestIDs, bounds) {
		parts = append(parts, "SELECT "+eventColumns+"\nFROM access_events\nWHERE "+cond+"\n  AND "+bounds)
	}
	// Branches overlap (the tap's hop has both ids); collect drops the
	// repeats, so the limit leaves room for them.
	max := len(parts) * limit
	sql := "SELECT * FROM (\n" + strings.Join(parts, "\nUNION ALL\n") + "\n)\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(max+1))
	var events []*taplinev1.AccessEvent
	truncated := false
	err := s.each(ctx, "read access events", sql, st.params, func(r store.Rows) error {
		if len(events) == max {
			truncated = true
			return nil
		}
		e, err := scanEvent(r)
		if err != nil {
			return err
		}
		events = append(events, e)
		return nil
	})
	return events, truncated, err
}

// loadTLS reads the TLS connections with the given ids, those of events
// already loaded: the round after the events, by connection id, rather
// than in the same round through a second read of access_events (which
// cost more than the rest of the TLS read). A kept-alive connection may
// have been opened up to tls_lookback before the requests on it.
func (s *Server) loadTLS(ctx context.Context, conns []string, events []*taplinev1.AccessEvent, limit int) ([]*taplinev1.TlsConnection, bool, error) {
	if len(conns) == 0 {
		return nil, false, nil
	}
	var first, last time.Time
	for _, e := range events {
		if !slices.Contains(conns, e.GetConnectionId()) {
			continue
		}
		t := e.GetTime().AsTime()
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	st := newStmt()
	sql := "SELECT " + tlsColumns + "\nFROM tls_connections\nWHERE ConnectionId IN " + st.strs(conns) +
		"\n  AND " + st.inBucketedTime(window{start: first.Add(-s.cfg.TLSLookback), end: last.Add(idSlack)}) +
		"\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(limit+1))
	var out []*taplinev1.TlsConnection
	truncated := false
	err := s.each(ctx, "read TLS connections", sql, st.params, func(r store.Rows) error {
		if len(out) == limit {
			truncated = true
			return nil
		}
		conn, err := scanTLS(r)
		if err != nil {
			return err
		}
		out = append(out, conn)
		return nil
	})
	return out, truncated, err
}

// timeline orders what was collected.
func (c *collection) timeline() *taplinev1.Timeline {
	tl := &taplinev1.Timeline{
		TraceIds:   slices.Sorted(slices.Values(c.traceIDs)),
		RequestIds: slices.Sorted(slices.Values(c.requestIDs)),
		Hops:       []*taplinev1.Hop{},
		Entries:    []*taplinev1.TimelineEntry{},
		SpanCount:  int64(len(c.spans)),
		Truncated:  c.truncated,
	}
	hopOfSpan := map[string]string{}
	for _, e := range c.events {
		if e.GetSpanId() != "" {
			if h, ok := hopOfSpan[e.GetSpanId()]; !ok || hopRank(e.GetSource()) > hopRank(h) {
				hopOfSpan[e.GetSpanId()] = e.GetSource()
			}
		}
	}
	depth := spanDepths(c.spans)
	var start, end time.Time
	span := func(t time.Time, d time.Duration) {
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if t.Add(d).After(end) {
			end = t.Add(d)
		}
	}
	for _, sp := range c.spans {
		if sp.GetStatusCode() == statusError {
			tl.ErrorCount++
		}
		span(sp.GetStartTime().AsTime(), sp.GetDuration().AsDuration())
		tl.Entries = append(tl.Entries, &taplinev1.TimelineEntry{
			Time: sp.GetStartTime(), Duration: sp.GetDuration(), Kind: kindSpan,
			Hop: hopOfSpan[sp.GetSpanId()], ServiceName: sp.GetServiceName(), Depth: int32(depth[sp.GetSpanId()]),
			Item: &taplinev1.TimelineEntry_Span{Span: sp},
		})
	}
	for _, e := range c.events {
		if e.GetStatus() >= 500 {
			tl.ErrorCount++
		}
		span(e.GetTime().AsTime(), e.GetDuration().AsDuration())
		tl.Entries = append(tl.Entries, &taplinev1.TimelineEntry{
			Time: e.GetTime(), Duration: e.GetDuration(), Kind: kindAccess, Hop: e.GetSource(),
			ServiceName: e.GetServiceName(), Depth: -1,
			Item: &taplinev1.TimelineEntry_Access{Access: e},
		})
		tl.Hops = append(tl.Hops, &taplinev1.Hop{
			Source: e.GetSource(), ServiceName: e.GetServiceName(), Node: e.GetNode(),
			StartTime: e.GetTime(), Duration: e.GetDuration(), Status: e.GetStatus(),
			Decision: e.GetDecision(), Principal: e.GetIdentity().GetPrincipal(),
			TlsVersion: e.GetTls().GetVersion(), MtlsVerified: e.GetTls().GetMtlsVerified(),
			RequestId: e.GetRequestId(), TraceId: e.GetTraceId(),
		})
	}
	for _, conn := range c.tls {
		tl.Entries = append(tl.Entries, &taplinev1.TimelineEntry{
			Time: conn.GetTime(), Duration: conn.GetHandshakeDuration(), Kind: kindTLS, Hop: conn.GetSource(),
			ServiceName: conn.GetServiceName(), Depth: -1,
			Item: &taplinev1.TimelineEntry_Tls{Tls: conn},
		})
	}
	slices.SortStableFunc(tl.Entries, func(a, b *taplinev1.TimelineEntry) int {
		if c := a.GetTime().AsTime().Compare(b.GetTime().AsTime()); c != 0 {
			return c
		}
		if c := entryRank(a) - entryRank(b); c != 0 {
			return c
		}
		return int(a.GetDepth() - b.GetDepth())
	})
	slices.SortStableFunc(tl.Hops, func(a, b *taplinev1.Hop) int {
		if c := hopRank(a.GetSource()) - hopRank(b.GetSource()); c != 0 {
			return c
		}
		return a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime())
	})
	if !start.IsZero() {
		tl.StartTime = timestamppb.New(start)
		tl.Duration = durationpb.New(end.Sub(start))
	}
	return tl
}

// entryRank breaks ties between entries that start at the same time: the
// TLS handshake first, then the hops in path order, then spans.
func entryRank(e *taplinev1.TimelineEntry) int {
	switch e.GetKind() {
	case kindTLS:
		return 0
	case kindAccess:
		return hopRank(e.GetHop())
	}
	return 10
}

// spanDepths returns each span's depth below its trace's root; spans whose
// parent was not recorded count as roots.
func spanDepths(spans []*taplinev1.Span) map[string]int {
	parent := make(map[string]string, len(spans))
	for _, sp := range spans {
		parent[sp.GetSpanId()] = sp.GetParentSpanId()
	}
	depth := make(map[string]int, len(spans))
	var walk func(id string, seen int) int
	walk = func(id string, seen int) int {
		if d, ok := depth[id]; ok {
			return d
		}
		p, ok := parent[id]
		if !ok || p == "" || seen > len(spans) { // root, unknown parent, or a cycle
			return 0
		}
		if _, known := parent[p]; !known {
			return 0
		}
		d := walk(p, seen+1) + 1
		depth[id] = d
		return d
	}
	for _, sp := range c2ids(spans) {
		depth[sp] = walk(sp, 0)
	}
	return depth
}

func c2ids(spans []*taplinev1.Span) []string {
	ids := make([]string, len(spans))
	for i, sp := range spans {
		ids[i] = sp.GetSpanId()
	}
	return ids
}
