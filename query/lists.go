package query

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/store"
)

// Attribute key scopes (ListAttributeKeysRequest.scope).
const (
	attrScopeSpan     = "span"
	attrScopeResource = "resource"
)

// maxOperations caps ListOperations.
const maxOperations = 10000

// attributeKeySample: ListAttributeKeys over more than an hour reads one
// trace in this many.
const attributeKeySample = 16

// ListServices implements taplinev1.TraceServiceServer.
func (t *traceServer) ListServices(ctx context.Context, req *taplinev1.ListServicesRequest) (*taplinev1.ListServicesResponse, error) {
	s := t.s
	var v violations
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.MetadataWindow, s.now())
	if err := v.err(); err != nil {
		return nil, err
	}
	st := newStmt()
	sql := `SELECT Name, sum(Spans), sum(Events) FROM (
  SELECT toString(ServiceName) AS Name, count() AS Spans, toUInt64(0) AS Events
  FROM otel_traces WHERE ` + st.inTime("Timestamp", w) + ` GROUP BY ServiceName
  UNION ALL
  SELECT toString(ServiceName) AS Name, toUInt64(0) AS Spans, count() AS Events
  FROM access_events WHERE ` + st.inBucketedTime(w) + ` GROUP BY ServiceName
)
WHERE Name != ''
GROUP BY Name
ORDER BY Name
LIMIT ` + st.u32(maxOperations)
	resp := &taplinev1.ListServicesResponse{Services: []*taplinev1.Service{}}
	err := s.each(ctx, "list services", sql, st.params, func(r store.Rows) error {
		var (
			svc           taplinev1.Service
			spans, events uint64
		)
		if err := r.Scan(&svc.Name, &spans, &events); err != nil {
			return err
		}
		svc.SpanCount, svc.AccessEventCount = int64(spans), int64(events)
		resp.Services = append(resp.Services, &svc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListOperations implements taplinev1.TraceServiceServer.
func (t *traceServer) ListOperations(ctx context.Context, req *taplinev1.ListOperationsRequest) (*taplinev1.ListOperationsResponse, error) {
	s := t.s
	var v violations
	if req.GetServiceName() == "" {
		v.add("service_name", "required")
	}
	checkText(&v, "service_name", req.GetServiceName(), maxNameLen)
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.MetadataWindow, s.now())
	if err := v.err(); err != nil {
		return nil, err
	}
	st := newStmt()
	sql := `SELECT toString(SpanName) AS Name, toString(SpanKind) AS Kind, count(),
  countIf(StatusCode = ` + st.str(statusError) + `), toUInt64(quantile(0.95)(Duration))
FROM otel_traces
WHERE ServiceName = ` + st.str(req.GetServiceName()) + ` AND ` + st.inTime("Timestamp", w) + `
GROUP BY Name, Kind
ORDER BY Name, Kind
LIMIT ` + st.u32(maxOperations)
	resp := &taplinev1.ListOperationsResponse{Operations: []*taplinev1.Operation{}}
	err := s.each(ctx, "list operations", sql, st.params, func(r store.Rows) error {
		var (
			op           taplinev1.Operation
			n, errs, p95 uint64
		)
		if err := r.Scan(&op.Name, &op.SpanKind, &n, &errs, &p95); err != nil {
			return err
		}
		op.SpanCount, op.ErrorCount, op.P95Duration = int64(n), int64(errs), durationpb.New(time.Duration(p95))
		resp.Operations = append(resp.Operations, &op)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ListAttributeKeys implements taplinev1.TraceServiceServer.
func (t *traceServer) ListAttributeKeys(ctx context.Context, req *taplinev1.ListAttributeKeysRequest) (*taplinev1.ListAttributeKeysResponse, error) {
	s := t.s
	var v violations
	checkText(&v, "service_name", req.GetServiceName(), maxNameLen)
	switch req.GetScope() {
	case "", attrScopeSpan, attrScopeResource:
	default:
		v.add("scope", `must be "span", "resource" or empty, got %q`, req.GetScope())
	}
	limit := s.resolveLimit(&v, req.GetLimit())
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.MetadataWindow, s.now())
	if err := v.err(); err != nil {
		return nil, err
	}
	st := newStmt()
	conds := []string{st.inTime("Timestamp", w)}
	if req.GetServiceName() != "" {
		conds = append(conds, "ServiceName = "+st.str(req.GetServiceName()))
	}
	// Over more than an hour, read the maps of one trace in
	// attributeKeySample only (whole traces, chosen by id hash) and scale
	// the counts: the maps are most of what the table holds.
	sample := uint64(1)
	if w.duration() > time.Hour {
		sample = attributeKeySample
		conds = append(conds, "cityHash64(TraceId) % "+st.u64(sample)+" = 0")
	}
	var parts []string
	if req.GetScope() != attrScopeResource {
		parts = append(parts, "SELECT arrayJoin(mapKeys(SpanAttributes)) AS Key, "+st.str(attrScopeSpan)+" AS Scope FROM otel_traces WHERE "+where(conds))
	}
	if req.GetScope() != attrScopeSpan {
		parts = append(parts, "SELECT arrayJoin(mapKeys(ResourceAttributes)) AS Key, "+st.str(attrScopeResource)+" AS Scope FROM otel_traces WHERE "+where(conds))
	}
	sql := "SELECT toString(Key) AS K, Scope, count() * " + st.u64(sample) + " AS N FROM (\n  " + parts[0]
	if len(parts) > 1 {
		sql += "\n  UNION ALL\n  " + parts[1]
	}
	sql += "\n)\nGROUP BY K, Scope\nORDER BY N DESC, K, Scope\nLIMIT " + st.u32(uint32(limit))
	resp := &taplinev1.ListAttributeKeysResponse{Keys: []*taplinev1.AttributeKey{}, Estimated: sample > 1}
	err := s.each(ctx, "list attribute keys", sql, st.params, func(r store.Rows) error {
		var (
			k taplinev1.AttributeKey
			n uint64
		)
		if err := r.Scan(&k.Key, &k.Scope, &n); err != nil {
			return err
		}
		k.Count = int64(n)
		resp.Keys = append(resp.Keys, &k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
