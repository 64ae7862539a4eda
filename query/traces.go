package query

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

// Trace search scans the newest part of the window first and widens the
// scan until a page is full: most searches are answered from the first few
// minutes of data. The first scan covers firstScanFraction of the window
// (at least minFirstScan); each next one scanGrowth times more.
const (
	minFirstScan      = 5 * time.Minute
	firstScanFraction = 256
	scanGrowth        = 16
	// idSlack widens id lookups in access_events around a trace's spans:
	// hops are recorded by other machines whose clocks differ a little.
	idSlack = time.Minute
)

// Status code of an erroneous span, as the OpenTelemetry exporter stores it.
const statusError = "Error"

// traceSearch is a validated SearchTracesRequest.
type traceSearch struct {
	// itemIndexes: otel_traces has the text layout's item indexes.
	itemIndexes          bool
	service, spanName    string
	attrs                []AttrFilter
	errorsOnly           bool
	minDur, maxDur       time.Duration
	principal, requestID string
	w                    window
	limit                int
	after                *cursor
	filter               string
}

func (s *Server) parseTraceSearch(req *taplinev1.SearchTracesRequest) (traceSearch, error) {
	var v violations
	q := traceSearch{
		itemIndexes: s.itemIndexes.Load(),
		service:     req.GetServiceName(),
		spanName:    req.GetSpanName(),
		errorsOnly:  req.GetErrorsOnly(),
		principal:   req.GetPrincipal(),
		requestID:   req.GetRequestId(),
	}
	checkText(&v, "service_name", q.service, maxNameLen)
	checkText(&v, "span_name", q.spanName, maxNameLen)
	checkText(&v, "principal", q.principal, maxValueLen)
	checkText(&v, "request_id", q.requestID, maxIDLen)
	if len(req.GetAttributes()) > maxAttrFilters {
		v.add("attributes", "at most %d attribute filters", maxAttrFilters)
	} else {
		for i, a := range req.GetAttributes() {
			f, err := ParseAttrFilter(a)
			if err != nil {
				v.add(sprintf("attributes[%d]", i), "%v", err)
				continue
			}
			q.attrs = append(q.attrs, f)
		}
	}
	q.minDur = checkDuration(&v, "min_duration", req.GetMinDuration())
	q.maxDur = checkDuration(&v, "max_duration", req.GetMaxDuration())
	if req.GetMaxDuration() != nil && q.maxDur < q.minDur {
		v.add("max_duration", "must be >= min_duration")
	}
	q.limit = s.resolveLimit(&v, req.GetLimit())

	plain := proto.CloneOf(req)
	plain.Cursor, plain.Limit = "", 0
	q.filter = filterHash(plain)
	now := s.now()
	if req.GetCursor() != "" {
		if c, ok := decodeCursor(&v, req.GetCursor(), q.filter); ok {
			q.after = &c
			q.w = window{start: time.Unix(0, c.Start).UTC(), end: time.Unix(0, c.End).UTC()}
			if normTraceID(&v, "cursor", c.Key); len(v) > 0 {
				return q, v.err()
			}
		}
	} else {
		q.w = s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.DefaultWindow, now)
	}
	return q, v.err()
}

// spanConds are the conditions on one span: the search matches traces with
// at least one span meeting all of them. The scan covers [lo, q.w.end).
func (q traceSearch) spanConds(st *stmt, lo time.Time) []string {
	conds := []string{st.inTime("Timestamp", window{start: lo, end: q.w.end})}
	if q.service != "" {
		conds = append(conds, "ServiceName = "+st.str(q.service))
	}
	if q.spanName != "" {
		conds = append(conds, "SpanName = "+st.str(q.spanName))
	}
	for _, f := range q.attrs {
		conds = append(conds, attrCond(st, f, q.itemIndexes))
	}
	if q.errorsOnly {
		conds = append(conds, "StatusCode = "+st.str(statusError))
	}
	if q.minDur > 0 {
		conds = append(conds, "Duration >= "+st.durationNs(q.minDur))
	}
	if q.maxDur > 0 {
		conds = append(conds, "Duration <= "+st.durationNs(q.maxDur))
	}
	ids := window{start: lo.Add(-idSlack), end: q.w.end.Add(idSlack)}
	if q.principal != "" {
		p := st.str(q.principal)
		conds = append(conds, "(TraceId IN (SELECT TraceId FROM access_events WHERE "+st.inBucketedTime(ids)+
			" AND Principal = "+p+" AND TraceId != '') OR SpanAttributes["+st.str(event.AttrEnduserID)+"] = "+p+")")
	}
	if q.requestID != "" {
		r := st.str(q.requestID)
		conds = append(conds, "(TraceId IN (SELECT TraceId FROM access_events WHERE "+st.inBucketedTime(ids)+
			" AND RequestId = "+r+" AND TraceId != '') OR SpanAttributes["+st.str(event.AttrRequestID)+"] = "+r+")")
	}
	return conds
}

// attrCond is the condition of one attribute filter. Equality is a test on
// the map, which the bloom-filter indexes on the map values serve; where
// otel_traces has the text layout's indexes on the 'key=value' items
// (itemIndexes), it is first answered from the items, which those indexes
// serve, and confirmed on the map, so that keys containing '=' cannot
// produce false matches.
func attrCond(st *stmt, f AttrFilter, itemIndexes bool) string {
	type attrMap struct{ m, items string }
	var maps []attrMap
	if f.Scope != ScopeResource {
		maps = append(maps, attrMap{"SpanAttributes", "SpanAttributeItems"})
	}
	if f.Scope != ScopeSpan {
		maps = append(maps, attrMap{"ResourceAttributes", "ResourceAttributeItems"})
	}
	k := st.str(f.Key)
	var parts []string
	join := " OR "
	switch f.Op {
	case OpEquals:
		v := st.str(f.Value)
		for _, m := range maps {
			if itemIndexes {
				kv := st.str(f.Key + "=" + f.Value)
				parts = append(parts, "(has("+m.items+", "+kv+") AND "+m.m+"["+k+"] = "+v+")")
			} else {
				parts = append(parts, m.m+"["+k+"] = "+v)
			}
		}
	case OpNotEquals:
		v := st.str(f.Value)
		for _, m := range maps {
			parts = append(parts, "NOT (mapContains("+m.m+", "+k+") AND "+m.m+"["+k+"] = "+v+")")
		}
		join = " AND "
	case OpExists:
		for _, m := range maps {
			parts = append(parts, "mapContains("+m.m+", "+k+")")
		}
	case OpNotExists:
		for _, m := range maps {
			parts = append(parts, "NOT mapContains("+m.m+", "+k+")")
		}
		join = " AND "
	}
	return "(" + strings.Join(parts, join) + ")"
}

// matchSQL finds the traces with a matching span in [lo, end), keyed by
// their newest matching span, after the cursor, newest first.
func (q traceSearch) matchSQL(lo time.Time) (string, store.Params) {
	st := newStmt()
	sql := "SELECT TraceId, max(Timestamp) AS MatchedAt\nFROM otel_traces\nWHERE " + where(q.spanConds(st, lo)) +
		"\nGROUP BY TraceId"
	if q.after != nil {
		sql += "\nHAVING (MatchedAt, TraceId) < (" + st.time(time.Unix(0, q.after.Time)) + ", " + st.str(q.after.Key) + ")"
	}
	sql += "\nORDER BY MatchedAt DESC, TraceId DESC\nLIMIT " + st.u32(uint32(q.limit+1))
	return sql, st.params
}

// nextStep is the width of the next scan after one of width step found
// found of the want results: wider by the shortfall (twice over), by at
// least scanGrowth, and the whole window when it found nothing (a rare
// filter: one full scan beats several growing ones).
func nextStep(step time.Duration, found, want int, window time.Duration) time.Duration {
	if found == 0 {
		return window
	}
	grow := max(scanGrowth, 2*want/found+1)
	if step > window/time.Duration(grow) {
		return window
	}
	return step * time.Duration(grow)
}

type matchedTrace struct {
	id      string
	matched time.Time
}

// SearchTraces implements taplinev1.TraceServiceServer.
func (t *traceServer) SearchTraces(ctx context.Context, req *taplinev1.SearchTracesRequest) (*taplinev1.SearchTracesResponse, error) {
	s := t.s
	q, err := s.parseTraceSearch(req)
	if err != nil {
		return nil, err
	}
	top := q.w.end
	if q.after != nil {
		top = time.Unix(0, q.after.Time).UTC()
	}
	var matched []matchedTrace
	for step := max(minFirstScan, q.w.duration()/firstScanFraction); ; step = nextStep(step, len(matched), q.limit+1, q.w.duration()) {
		lo := top.Add(-step)
		if !lo.After(q.w.start) {
			lo = q.w.start
		}
		sql, params := q.matchSQL(lo)
		matched = matched[:0]
		err := s.each(ctx, "search traces", sql, params, func(r store.Rows) error {
			var m matchedTrace
			if err := r.Scan(&m.id, &m.matched); err != nil {
				return err
			}
			matched = append(matched, m)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(matched) > q.limit || lo.Equal(q.w.start) {
			break
		}
	}
	resp := &taplinev1.SearchTracesResponse{}
	if len(matched) > q.limit {
		last := matched[q.limit-1]
		matched = matched[:q.limit]
		resp.NextCursor = cursor{
			Version: cursorVersion, Filter: q.filter,
			Start: q.w.start.UnixNano(), End: q.w.end.UnixNano(),
			Time: last.matched.UnixNano(), Key: last.id,
		}.encode()
	}
	summaries, err := s.summarize(ctx, matched)
	if err != nil {
		return nil, err
	}
	resp.Traces = summaries
	return resp, nil
}

// traceTimeBounds is the condition that keeps a query on otel_traces
// within the time range of the given traces, read from
// otel_traces_trace_id_ts first (ClickHouse runs the scalar subqueries before
// the query and prunes partitions and granules with their results). End is
// rounded down to the second, hence the extra second. The bounds are
// DateTime64: chDB 26.5 answers `Timestamp < <DateTime>` on otel_traces
// with no rows at all (a DateTime64 column compared with a DateTime value,
// with skip indexes on), so every time compared with Timestamp is a
// DateTime64.
func traceTimeBounds(st *stmt, ids string) string {
	return "Timestamp >= (SELECT toDateTime64(min(Start), 9, 'UTC') FROM otel_traces_trace_id_ts WHERE TraceId IN " + ids + ")" +
		" AND Timestamp < (SELECT toDateTime64(max(End), 9, 'UTC') + toIntervalSecond(1) FROM otel_traces_trace_id_ts WHERE TraceId IN " + ids + ")"
}

// eventTimeBounds does the same for access_events through
// access_events_id_ts (exact times), with the five-minute bucket range
// spelled out (see inBucketedTime).
func eventTimeBounds(ids string) string {
	lo := "(SELECT min(Start) FROM access_events_id_ts WHERE Id IN " + ids + ")"
	hi := "(SELECT max(End) FROM access_events_id_ts WHERE Id IN " + ids + ")"
	return "toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes(" + lo + ") AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes(" + hi + ")" +
		" AND Timestamp >= " + lo + " AND Timestamp <= " + hi
}

// summarize builds the summaries of the given traces, in the given order:
// the spans' figures and the access events' identities, read in parallel,
// each bounded by the lookup tables.
func (s *Server) summarize(ctx context.Context, matched []matchedTrace) ([]*taplinev1.TraceSummary, error) {
	if len(matched) == 0 {
		return []*taplinev1.TraceSummary{}, nil
	}
	ids := make([]string, len(matched))
	for i, m := range matched {
		ids[i] = m.id
	}
	var (
		byID       = map[string]*taplinev1.TraceSummary{}
		identities = map[string]eventIdentity{}
	)
	err := parallel(
		func() error { return s.spanSummaries(ctx, ids, byID) },
		func() error { return s.eventIdentities(ctx, ids, identities) },
	)
	if err != nil {
		return nil, err
	}
	out := make([]*taplinev1.TraceSummary, 0, len(matched))
	for _, m := range matched {
		sum, ok := byID[m.id]
		if !ok { // expired between the two queries
			continue
		}
		sum.MatchedAt = timestamppb.New(m.matched)
		if id, ok := identities[m.id]; ok {
			if id.principal != "" {
				sum.Principal = id.principal
			}
			for _, rid := range id.requestIDs {
				if !slices.Contains(sum.RequestIds, rid) {
					sum.RequestIds = append(sum.RequestIds, rid)
				}
			}
			slices.Sort(sum.RequestIds)
		}
		out = append(out, sum)
	}
	return out, nil
}

func (s *Server) spanSummaries(ctx context.Context, ids []string, byID map[string]*taplinev1.TraceSummary) error {
	st := newStmt()
	kUser, kRID, idList := st.str(event.AttrEnduserID), st.str(event.AttrRequestID), st.strs(ids)
	sql := `SELECT TraceId,
  min(Timestamp) AS Start,
  max(toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)) AS EndNs,
  count() AS Spans,
  countIf(StatusCode = ` + st.str(statusError) + `) AS Errors,
  arraySort(groupUniqArray(toString(ServiceName))) AS Services,
  countIf(ParentSpanId = '') AS Roots,
  toString(argMinIf(ServiceName, Timestamp, ParentSpanId = '')) AS RootService,
  toString(argMinIf(SpanName, Timestamp, ParentSpanId = '')) AS RootName,
  toString(argMin(ServiceName, Timestamp)) AS FirstService,
  toString(argMin(SpanName, Timestamp)) AS FirstName,
  minIf(SpanAttributes[` + kUser + `], SpanAttributes[` + kUser + `] != '') AS SpanPrincipal,
  arraySort(groupUniqArrayIf(SpanAttributes[` + kRID + `], SpanAttributes[` + kRID + `] != '')) AS SpanRequestIds
FROM otel_traces
WHERE TraceId IN ` + idList + ` AND ` + traceTimeBounds(st, idList) + `
GROUP BY TraceId`
	return s.each(ctx, "summarize traces", sql, st.params, func(r store.Rows) error {
		var (
			id, rootSvc, rootName, firstSvc, firstName, principal string
			start                                                 time.Time
			endNs                                                 int64
			spans, errs, roots                                    uint64
			services, rids                                        []string
		)
		if err := r.Scan(&id, &start, &endNs, &spans, &errs, &services, &roots, &rootSvc, &rootName, &firstSvc, &firstName, &principal, &rids); err != nil {
			return err
		}
		sum := &taplinev1.TraceSummary{
			TraceId:         id,
			RootServiceName: rootSvc,
			RootSpanName:    rootName,
			StartTime:       timestamppb.New(start),
			Duration:        durationpb.New(time.Duration(endNs - start.UnixNano())),
			SpanCount:       int64(spans),
			ErrorCount:      int64(errs),
			ServiceNames:    nonNil(services),
			Principal:       principal,
			RequestIds:      nonNil(rids),
		}
		if roots == 0 {
			sum.RootMissing, sum.RootServiceName, sum.RootSpanName = true, firstSvc, firstName
		}
		byID[id] = sum
		return nil
	})
}

type eventIdentity struct {
	principal  string
	requestIDs []string
}

// eventIdentities reads the principals and request ids of the traces'
// access events. The tap's principal is preferred: it verified it.
func (s *Server) eventIdentities(ctx context.Context, ids []string, out map[string]eventIdentity) error {
	st := newStmt()
	tap, idList := st.str(event.SourceTap), st.strs(ids)
	sql := `SELECT TraceId,
  if(countIf(Principal != '' AND Source = ` + tap + `) > 0, minIf(Principal, Principal != '' AND Source = ` + tap + `), minIf(Principal, Principal != '')) AS Principal,
  arraySort(groupUniqArrayIf(RequestId, RequestId != '')) AS RequestIds
FROM access_events
WHERE TraceId IN ` + idList + ` AND ` + eventTimeBounds(idList) + `
GROUP BY TraceId`
	return s.each(ctx, "summarize traces", sql, st.params, func(r store.Rows) error {
		var (
			id string
			e  eventIdentity
		)
		if err := r.Scan(&id, &e.principal, &e.requestIDs); err != nil {
			return err
		}
		out[id] = e
		return nil
	})
}

// parallel runs fns at once (each on its own engine connection) and
// returns their errors joined.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return firstError(errs)
}

// firstError returns the first error that is not nil: the gRPC status of
// the step that failed first in argument order.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
