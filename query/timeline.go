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
	"github.com/tapline/tapline/store/byid"
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
// ids, request ids and connection ids between them. Each round looks up
// the ids it has not read yet (their time ranges, and what the id lookup
// table names with them: a trace's request ids, a request's trace ids,
// their TLS connections), then reads spans, events and TLS connections at
// once.
func (s *Server) collect(ctx context.Context, c *collection) error {
	for range maxTimelineRounds {
		var traces, lookups []string
		for i, id := range c.traceIDs {
			if !c.spansLoaded[id] && (i == 0 || c.followTraces) {
				traces = append(traces, id)
				c.spansLoaded[id] = true
			}
			if !c.eventsByID["t:"+id] {
				lookups = append(lookups, id)
				c.eventsByID["t:"+id] = true
			}
		}
		var requests []string
		for _, id := range c.requestIDs {
			if !c.eventsByID["r:"+id] {
				requests = append(requests, id)
				lookups = append(lookups, id)
				c.eventsByID["r:"+id] = true
			}
		}
		var conns []string
		for _, e := range c.events {
			if id := e.GetConnectionId(); id != "" && !c.connsLoaded[id] {
				conns = append(conns, id)
				c.connsLoaded[id] = true
			}
		}
		if len(traces)+len(lookups)+len(conns) == 0 {
			return nil
		}
		b, err := s.lookupIDs(ctx, traces, lookups)
		if err != nil {
			return err
		}
		// A looked-up trace's request ids are read now, by request id; so
		// are its events without one. A request's trace ids are looked up
		// next round.
		var orphans []string
		for _, id := range lookups {
			isTrace, isRequest := slices.Contains(c.traceIDs, id), slices.Contains(requests, id)
			for _, other := range b.related[id] {
				switch {
				case isTrace && other == "":
					orphans = append(orphans, id)
				case isTrace && !c.eventsByID["r:"+other]:
					c.addRequest(other)
					if slices.Contains(c.requestIDs, other) {
						requests = append(requests, other)
						c.eventsByID["r:"+other] = true
					}
				}
				if isRequest && other != "" {
					c.addTrace(other)
				}
			}
		}
		var lookupConns []string
		for _, id := range b.conns {
			if !c.connsLoaded[id] {
				lookupConns = append(lookupConns, id)
				c.connsLoaded[id] = true
			}
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
				events, limited[1], err = s.loadEvents(ctx, requests, orphans, b.events, s.cfg.MaxTimelineSpans-len(c.events))
				return err
			},
			func() (err error) {
				tls, limited[2], err = s.loadTLS(ctx, lookupConns, conns, b.events, c.events, s.cfg.MaxTimelineSpans)
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
			// Traces these events name are looked up next round, and the
			// connections they name read then unless the lookup named them.
			c.addTrace(e.GetTraceId())
			c.addRequest(e.GetRequestId())
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

// pointRead ends the queries of a timeline: each reads a granule or two
// and runs beside the others of its round, where more threads per query
// cost more in starting and joining them than they save.
const pointRead = "\nSETTINGS max_threads = 1"

// idLookup is what the lookup tables give for a round's ids: time ranges
// (a nil window means none of the ids is known), and from
// access_events_id_ts, per id, the other ids its events carry (a trace's
// request ids, a request's trace ids; "" when an event had none) and their
// TLS connection ids.
type idLookup struct {
	spans, events *window
	related       map[string][]string
	conns         []string
}

// lookupIDs reads the time range of the given traces from
// otel_traces_trace_id_ts and, per id, the time range, related ids and
// connections of the given trace and request ids from access_events_id_ts:
// two queries, run at once. The span range ends a second after End (End
// is rounded down to the second); the event range is widened by idSlack on
// both sides, since hops are recorded by machines whose clocks differ.
func (s *Server) lookupIDs(ctx context.Context, traces, ids []string) (idLookup, error) {
	l := idLookup{related: map[string][]string{}}
	err := parallel(
		func() error {
			if len(traces) == 0 {
				return nil
			}
			st := newStmt()
			sql := "SELECT toDateTime64(min(Start), 9, 'UTC'), toDateTime64(max(End), 9, 'UTC'), count()" +
				" FROM otel_traces_trace_id_ts WHERE TraceId IN " + st.strs(traces) + pointRead
			return s.each(ctx, "look up traces", sql, st.params, func(r store.Rows) error {
				var (
					w window
					n uint64
				)
				if err := r.Scan(&w.start, &w.end, &n); err != nil || n == 0 {
					return err
				}
				w.end = w.end.Add(time.Second)
				l.spans = &w
				return nil
			})
		},
		func() error {
			if len(ids) == 0 {
				return nil
			}
			st := newStmt()
			sql := "SELECT Id, min(Start), max(End), groupUniqArrayArray(Related), groupUniqArrayArray(Connections)" +
				" FROM access_events_id_ts WHERE Id IN " + st.strs(ids) + " GROUP BY Id" + pointRead
			err := s.each(ctx, "look up ids", sql, st.params, func(r store.Rows) error {
				var (
					id             string
					w              window
					related, conns []string
				)
				if err := r.Scan(&id, &w.start, &w.end, &related, &conns); err != nil {
					return err
				}
				w.start, w.end = w.start.Add(-idSlack), w.end.Add(idSlack)
				l.events = widen(l.events, w)
				slices.Sort(related)
				l.related[id] = related
				l.conns = append(l.conns, conns...)
				return nil
			})
			slices.Sort(l.conns)
			l.conns = slices.Compact(l.conns)
			return err
		},
	)
	return l, err
}

// widen stretches into to cover w and returns it; with into nil it returns
// a copy of w.
func widen(into *window, w window) *window {
	if into == nil {
		return &w
	}
	if w.start.Before(into.start) {
		into.start = w.start
	}
	if w.end.After(into.end) {
		into.end = w.end
	}
	return into
}

// loadSpans reads the spans of the given traces within w, at most limit of
// them, from the copy of otel_traces by trace id, or from otel_traces when
// the copy holds none of them.
func (s *Server) loadSpans(ctx context.Context, ids []string, w *window, limit int) ([]*taplinev1.Span, bool, error) {
	if len(ids) == 0 || w == nil {
		return nil, false, nil
	}
	if limit <= 0 {
		return nil, true, nil
	}
	spans, truncated, err := readCopies(ctx, s, "read spans", byid.Spans, ids, *w, limit, scanSpan, nil)
	if err != nil {
		return nil, false, err
	}
	if len(spans) == 0 {
		return s.loadSourceSpans(ctx, ids, *w, limit)
	}
	// The order of the source read: start time, then span id.
	slices.SortStableFunc(spans, func(a, b *taplinev1.Span) int {
		if c := a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetSpanId(), b.GetSpanId())
	})
	return spans, truncated, nil
}

// loadSourceSpans reads the spans of the given traces within w from
// otel_traces, at most limit of them.
func (s *Server) loadSourceSpans(ctx context.Context, ids []string, w window, limit int) ([]*taplinev1.Span, bool, error) {
	st := newStmt()
	sql := "SELECT " + spanColumns + "\nFROM otel_traces\nWHERE TraceId IN " + st.strs(ids) + "\n  AND " + st.inTime("Timestamp", w) +
		"\nORDER BY Timestamp, SpanId\nLIMIT " + st.u32(uint32(limit+1)) + pointRead
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

// loadEvents reads, within w, the access events of the given requests and
// those without a request id of the given traces, at most limit of them.
// Each branch tests one id column, so that its bloom filter applies: they
// run as a UNION ALL, not as one OR.
func (s *Server) loadEvents(ctx context.Context, requests, orphanTraces []string, w *window, limit int) ([]*taplinev1.AccessEvent, bool, error) {
	if len(requests)+len(orphanTraces) == 0 || w == nil {
		return nil, false, nil
	}
	if limit <= 0 {
		return nil, true, nil
	}
	// The copy holds an event under its request id, or its trace id when
	// it has none; an id of one kind that is also an id of the other is
	// told apart by the row.
	events, truncated, err := readCopies(ctx, s, "read access events", byid.Events, slices.Concat(requests, orphanTraces), *w, limit,
		func(r scanner) (*taplinev1.AccessEvent, error) { return scanEvent(r) },
		func(e *taplinev1.AccessEvent) bool {
			rid := e.GetRequestId()
			return slices.Contains(requests, rid) || rid == "" && slices.Contains(orphanTraces, e.GetTraceId())
		})
	if err != nil {
		return nil, false, err
	}
	if len(events) > 0 {
		return events, truncated, nil
	}
	return s.loadSourceEvents(ctx, requests, orphanTraces, *w, limit)
}

// loadSourceEvents is loadEvents from access_events.
func (s *Server) loadSourceEvents(ctx context.Context, requests, orphanTraces []string, w window, limit int) ([]*taplinev1.AccessEvent, bool, error) {
	st := newStmt()
	bounds := st.inBucketedTime(w)
	var parts []string
	if len(requests) > 0 {
		parts = append(parts, "SELECT "+eventColumns+"\nFROM access_events\nWHERE RequestId IN "+st.strs(requests)+"\n  AND "+bounds)
	}
	if len(orphanTraces) > 0 {
		parts = append(parts, "SELECT "+eventColumns+"\nFROM access_events\nWHERE TraceId IN "+st.strs(orphanTraces)+" AND RequestId = ''\n  AND "+bounds)
	}
	sql := "SELECT * FROM (\n" + strings.Join(parts, "\nUNION ALL\n") + "\n)\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(limit+1)) + pointRead
	var events []*taplinev1.AccessEvent
	truncated := false
	err := s.each(ctx, "read access events", sql, st.params, func(r store.Rows) error {
		if len(events) == limit {
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

// loadTLS reads the TLS connections with the given ids: those the id
// lookup named, in the round of the events that use them (within the
// events' range w), and those of events already loaded that it did not
// name (within those events' times). A kept-alive connection may have
// been opened up to tls_lookback before the requests on it.
func (s *Server) loadTLS(ctx context.Context, lookedUp, fromEvents []string, w *window, events []*taplinev1.AccessEvent, limit int) ([]*taplinev1.TlsConnection, bool, error) {
	var (
		conns []string
		span  *window
	)
	if len(lookedUp) > 0 && w != nil {
		conns = append(conns, lookedUp...)
		span = widen(span, *w)
	}
	for _, e := range events {
		if id := e.GetConnectionId(); slices.Contains(fromEvents, id) {
			t := e.GetTime().AsTime()
			span = widen(span, window{start: t, end: t.Add(idSlack)})
			if !slices.Contains(conns, id) {
				conns = append(conns, id)
			}
		}
	}
	if len(conns) == 0 || span == nil {
		return nil, false, nil
	}
	within := window{start: span.start.Add(-s.cfg.TLSLookback), end: span.end}
	out, truncated, err := readCopies(ctx, s, "read TLS connections", byid.TLS, conns, within, limit, scanTLS, nil)
	if err != nil {
		return nil, false, err
	}
	if len(out) > 0 {
		return out, truncated, nil
	}
	return s.loadSourceTLS(ctx, conns, within, limit)
}

// loadSourceTLS reads the TLS connections with the given ids within w from
// tls_connections, at most limit of them.
func (s *Server) loadSourceTLS(ctx context.Context, conns []string, w window, limit int) ([]*taplinev1.TlsConnection, bool, error) {
	st := newStmt()
	sql := "SELECT " + tlsColumns + "\nFROM tls_connections\nWHERE ConnectionId IN " + st.strs(conns) +
		"\n  AND " + st.inBucketedTime(w) +
		"\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(limit+1)) + pointRead
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
