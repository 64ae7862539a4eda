package query

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

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

// eventRowKey breaks ties between events with the same timestamp for
// pagination.
const eventRowKey = "sipHash64(Source, ServiceName, Node, RequestId, TraceId, SpanId, ConnectionId, ClientAddress, ClientPort, Path, Status)"

// sql builds the search. The order matches the table's sorting key
// (five-minute buckets first), so ClickHouse reads the newest parts first
// and stops at the limit.
func (q eventSearch) sql() (string, store.Params) {
	st := newStmt()
	r := q.req
	conds := []string{st.inTime("Timestamp", q.w)}
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
	if q.after != nil {
		at := st.time(time.Unix(0, q.after.Time))
		conds = append(conds, "Timestamp <= "+at+" AND (Timestamp, RowKey) < ("+at+", "+st.u64(q.after.Num)+")")
	}
	sql := "SELECT " + eventColumns + ",\n  " + eventRowKey + " AS RowKey\nFROM access_events\nWHERE " + where(conds) +
		"\nORDER BY toStartOfFiveMinutes(Timestamp) DESC, Timestamp DESC, RowKey DESC\nLIMIT " + st.u32(uint32(q.limit+1))
	return sql, st.params
}

// SearchEvents implements taplinev1.EventServiceServer.
func (e *eventServer) SearchEvents(ctx context.Context, req *taplinev1.SearchEventsRequest) (*taplinev1.SearchEventsResponse, error) {
	s := e.s
	q, err := s.parseEventSearch(req)
	if err != nil {
		return nil, err
	}
	sql, params := q.sql()
	resp := &taplinev1.SearchEventsResponse{Events: []*taplinev1.AccessEvent{}}
	var keys []uint64
	err = s.each(ctx, "search events", sql, params, func(r store.Rows) error {
		var key uint64
		ev, err := scanEvent(r, &key)
		if err != nil {
			return err
		}
		resp.Events = append(resp.Events, ev)
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Events) > q.limit {
		last := resp.Events[q.limit-1]
		resp.Events = resp.Events[:q.limit]
		resp.NextCursor = cursor{
			Version: cursorVersion, Filter: q.filter,
			Start: q.w.start.UnixNano(), End: q.w.end.UnixNano(),
			Time: last.GetTime().AsTime().UnixNano(), Num: keys[q.limit-1],
		}.encode()
	}
	return resp, nil
}
