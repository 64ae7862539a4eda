package query

import (
	"cmp"
	"context"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

var (
	knownSources   = []string{event.SourceNginx, event.SourceMesh, event.SourceTap, event.SourceApp, event.SourceAPI}
	knownDecisions = []string{event.DecisionAllow, event.DecisionDeny, event.DecisionObserve}
	tlsVersionRE   = regexp.MustCompile(`^[0-9]\.[0-9]$`)
	methodRE       = regexp.MustCompile(`^[A-Za-z-]{1,32}$`)
)

// tlsVersionNone is the tls_version filter value for requests without TLS.
const tlsVersionNone = "none"

// eventSearch is a validated SearchEventsRequest.
type eventSearch struct {
	req    *taplinev1.SearchEventsRequest
	method string
	status [2]uint16 // [lo, hi) of the status class, or zero
	trace  string
	w      window
	limit  int
	after  *cursor
	filter string
}

func (s *Server) parseEventSearch(req *taplinev1.SearchEventsRequest) (eventSearch, error) {
	var v violations
	q := eventSearch{req: req}
	if len(req.GetSources()) > maxSources {
		v.add("sources", "at most %d sources", maxSources)
	}
	for i, src := range req.GetSources() {
		if !slices.Contains(knownSources, src) {
			v.add(sprintf("sources[%d]", i), "must be one of %s, got %q", strings.Join(knownSources, ", "), src)
		}
	}
	checkText(&v, "service_name", req.GetServiceName(), maxNameLen)
	checkText(&v, "principal", req.GetPrincipal(), maxValueLen)
	checkText(&v, "path_prefix", req.GetPathPrefix(), maxValueLen)
	checkText(&v, "request_id", req.GetRequestId(), maxIDLen)
	if sc := req.GetStatusClass(); sc != "" {
		if len(sc) != 3 || sc[0] < '1' || sc[0] > '5' || strings.ToLower(sc[1:]) != "xx" {
			v.add("status_class", "must be 1xx, 2xx, 3xx, 4xx or 5xx, got %q", sc)
		} else {
			lo := uint16(sc[0]-'0') * 100
			q.status = [2]uint16{lo, lo + 100}
		}
	}
	if m := req.GetMethod(); m != "" {
		if !methodRE.MatchString(m) {
			v.add("method", "not an HTTP method: %q", m)
		}
		q.method = strings.ToUpper(m)
	}
	if d := req.GetDecision(); d != "" && !slices.Contains(knownDecisions, d) {
		v.add("decision", "must be allow, deny or observe, got %q", d)
	}
	if tv := req.GetTlsVersion(); tv != "" && tv != tlsVersionNone && !tlsVersionRE.MatchString(tv) {
		v.add("tls_version", `must be a version such as "1.3", or "none", got %q`, tv)
	}
	if id := req.GetTraceId(); id != "" {
		q.trace = normTraceID(&v, "trace_id", id)
	}
	q.limit = s.resolveLimit(&v, req.GetLimit())
	plain := proto.CloneOf(req)
	plain.Cursor, plain.Limit = "", 0
	q.filter = filterHash(plain)
	if req.GetCursor() != "" {
		if c, ok := decodeCursor(&v, req.GetCursor(), q.filter); ok {
			q.after = &c
			q.w = window{start: time.Unix(0, c.Start).UTC(), end: time.Unix(0, c.End).UTC()}
		}
	} else {
		q.w = s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.DefaultWindow, s.now())
	}
	return q, v.err()
}

// eventKey tells events with the same timestamp apart, for pagination: a
// page ends at a timestamp, and the cursor remembers which events at that
// timestamp were returned. Events identical in all these fields count as
// one.
func eventKey(e *taplinev1.AccessEvent) uint64 {
	h := fnv.New64a()
	for _, s := range []string{e.GetSource(), e.GetServiceName(), e.GetNode(), e.GetRequestId(), e.GetTraceId(), e.GetSpanId(),
		e.GetConnectionId(), e.GetClientAddress(), strconv.Itoa(int(e.GetClientPort())), e.GetMethod(), e.GetPath(), strconv.Itoa(int(e.GetStatus()))} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// sql builds the search: newest first, so that ClickHouse reads the
// timestamps, keeps the top rows and reads their other columns only. After
// a cursor it reads from the cursor's timestamp down, with room for the
// events at that timestamp that were already returned.
func (q eventSearch) sql(lo time.Time) (string, store.Params) {
	st := newStmt()
	r := q.req
	conds := []string{st.inBucketedTime(window{start: lo, end: q.w.end})}
	if len(r.GetSources()) > 0 {
		conds = append(conds, "Source IN "+st.strs(r.GetSources()))
	}
	if r.GetServiceName() != "" {
		conds = append(conds, "ServiceName = "+st.str(r.GetServiceName()))
	}
	if r.GetPrincipal() != "" {
		conds = append(conds, "Principal = "+st.str(r.GetPrincipal()))
	}
	if q.status[1] > 0 {
		conds = append(conds, "Status >= "+st.bind("UInt16", q.status[0])+" AND Status < "+st.bind("UInt16", q.status[1]))
	}
	if q.method != "" {
		conds = append(conds, "Method = "+st.str(q.method))
	}
	if r.GetPathPrefix() != "" {
		conds = append(conds, "startsWith(Path, "+st.str(r.GetPathPrefix())+")")
	}
	if r.GetDecision() != "" {
		conds = append(conds, "Decision = "+st.str(r.GetDecision()))
	}
	switch tv := r.GetTlsVersion(); tv {
	case "":
	case tlsVersionNone:
		conds = append(conds, "TlsVersion = ''")
	default:
		conds = append(conds, "TlsVersion = "+st.str(tv))
	}
	if r.GetRequestId() != "" {
		conds = append(conds, "RequestId = "+st.str(r.GetRequestId()))
	}
	if q.trace != "" {
		conds = append(conds, "TraceId = "+st.str(q.trace))
	}
	limit := q.limit + 1
	if q.after != nil {
		conds = append(conds, "Timestamp <= "+st.time(time.Unix(0, q.after.Time)))
		limit += len(q.after.Seen)
	}
	sql := "SELECT " + eventColumns + "\nFROM access_events\nWHERE " + where(conds) +
		"\nORDER BY Timestamp DESC\nLIMIT " + st.u32(uint32(limit))
	return sql, st.params
}

// SearchEvents implements taplinev1.EventServiceServer.
func (e *eventServer) SearchEvents(ctx context.Context, req *taplinev1.SearchEventsRequest) (*taplinev1.SearchEventsResponse, error) {
	s := e.s
	q, err := s.parseEventSearch(req)
	if err != nil {
		return nil, err
	}
	resp := &taplinev1.SearchEventsResponse{Events: []*taplinev1.AccessEvent{}}
	var seen map[uint64]bool
	top := q.w.end
	if q.after != nil {
		seen = make(map[uint64]bool, len(q.after.Seen))
		for _, k := range q.after.Seen {
			seen[k] = true
		}
		top = time.Unix(0, q.after.Time).UTC()
	}
	// As trace search does: the newest part of the window first, wider
	// until the page is full. Events are ordered by time, so a page found
	// in [lo, top] holds the newest events of the whole window.
	var rows []*taplinev1.AccessEvent
	for step := max(minFirstScan, q.w.duration()/firstScanFraction); ; step = nextStep(step, len(rows), q.limit+1, q.w.duration()) {
		lo := top.Add(-step)
		if !lo.After(q.w.start) {
			lo = q.w.start
		}
		sql, params := q.sql(lo)
		rows = rows[:0]
		err = s.each(ctx, "search events", sql, params, func(r store.Rows) error {
			ev, err := scanEvent(r)
			if err != nil {
				return err
			}
			if q.after != nil && ev.GetTime().AsTime().UnixNano() == q.after.Time && seen[eventKey(ev)] {
				return nil
			}
			rows = append(rows, ev)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(rows) > q.limit || lo.Equal(q.w.start) {
			break
		}
	}
	// Newest first; events sharing a timestamp in key order, so that a
	// page's order does not depend on how ClickHouse read them.
	slices.SortStableFunc(rows, func(a, b *taplinev1.AccessEvent) int {
		if c := b.GetTime().AsTime().Compare(a.GetTime().AsTime()); c != 0 {
			return c
		}
		return cmp.Compare(eventKey(b), eventKey(a))
	})
	more := len(rows) > q.limit
	resp.Events = append(resp.Events, rows[:min(len(rows), q.limit)]...)
	if more {
		last := resp.Events[len(resp.Events)-1].GetTime().AsTime().UnixNano()
		c := cursor{Version: cursorVersion, Filter: q.filter, Start: q.w.start.UnixNano(), End: q.w.end.UnixNano(), Time: last}
		if q.after != nil && q.after.Time == last {
			c.Seen = append(c.Seen, q.after.Seen...)
		}
		for _, ev := range resp.Events {
			if ev.GetTime().AsTime().UnixNano() == last {
				c.Seen = append(c.Seen, eventKey(ev))
			}
		}
		if len(c.Seen) > maxSeen {
			return nil, status.Errorf(codes.ResourceExhausted, "more than %d events share the timestamp %s; narrow the filters", maxSeen, time.Unix(0, last).UTC().Format(time.RFC3339Nano))
		}
		resp.NextCursor = c.encode()
	}
	return resp, nil
}
