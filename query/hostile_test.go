package query_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query/querytest"
)

// hostileStrings are values that would do harm if they reached SQL text,
// or that stress parsing.
var hostileStrings = []string{
	`'`, `"`, `\`, `\'`, "`",
	`' OR '1'='1`,
	`x'); DROP TABLE otel_traces; --`,
	`{p0:String}`, `{service:String}`,
	"tab\there\nnewline",
	"ünïcødé 中文 🚀",
	strings.Repeat("A", 5000),
	"%27%20OR%201%3D1",
	"..%2F..%2Fetc%2Fpasswd",
}

// method is one API method for the table-driven hostile-input test.
type method struct {
	name  string
	token string
	new   func() proto.Message
	// path builds the REST path; path parameters come from the message.
	path func(m proto.Message) string
	call func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error)
	// pathFields are the fields in the REST path, not the query.
	pathFields map[string]bool
}

func methods() []method {
	return []method{
		{name: "SearchTraces", new: func() proto.Message { return &taplinev1.SearchTracesRequest{} },
			path: func(proto.Message) string { return "/traces" },
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.traces.SearchTraces(ctx, m.(*taplinev1.SearchTracesRequest))
			}},
		{name: "GetTrace", new: func() proto.Message { return &taplinev1.GetTraceRequest{} },
			path: func(m proto.Message) string {
				return "/traces/" + url.PathEscape(m.(*taplinev1.GetTraceRequest).GetTraceId())
			},
			pathFields: map[string]bool{"trace_id": true},
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.traces.GetTrace(ctx, m.(*taplinev1.GetTraceRequest))
			}},
		{name: "GetRequest", new: func() proto.Message { return &taplinev1.GetRequestRequest{} },
			path: func(m proto.Message) string {
				return "/requests/" + url.PathEscape(m.(*taplinev1.GetRequestRequest).GetRequestId())
			},
			pathFields: map[string]bool{"request_id": true},
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.traces.GetRequest(ctx, m.(*taplinev1.GetRequestRequest))
			}},
		{name: "SearchEvents", new: func() proto.Message { return &taplinev1.SearchEventsRequest{} },
			path: func(proto.Message) string { return "/events" },
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.events.SearchEvents(ctx, m.(*taplinev1.SearchEventsRequest))
			}},
		{name: "ListOperations", new: func() proto.Message { return &taplinev1.ListOperationsRequest{} },
			path: func(m proto.Message) string {
				return "/services/" + url.PathEscape(m.(*taplinev1.ListOperationsRequest).GetServiceName()) + "/operations"
			},
			pathFields: map[string]bool{"service_name": true},
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.traces.ListOperations(ctx, m.(*taplinev1.ListOperationsRequest))
			}},
		{name: "ListAttributeKeys", new: func() proto.Message { return &taplinev1.ListAttributeKeysRequest{} },
			path: func(proto.Message) string { return "/attribute-keys" },
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.traces.ListAttributeKeys(ctx, m.(*taplinev1.ListAttributeKeysRequest))
			}},
		{name: "GetIdentities", token: auditorToken, new: func() proto.Message { return &taplinev1.GetIdentitiesRequest{} },
			path: func(proto.Message) string { return "/identities" },
			call: func(ctx context.Context, h *harness, m proto.Message) (proto.Message, error) {
				return h.events.GetIdentities(ctx, m.(*taplinev1.GetIdentitiesRequest))
			}},
	}
}

// restQuery turns a request's non-path fields into REST query parameters.
func restQuery(m proto.Message, pathFields map[string]bool) url.Values {
	q := url.Values{}
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if pathFields[string(fd.Name())] {
			return true
		}
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				q.Add(fd.JSONName(), v.List().Get(i).String())
			}
		case fd.Kind() == protoreflect.StringKind:
			q.Set(fd.JSONName(), v.String())
		case fd.Kind() == protoreflect.Int32Kind:
			q.Set(fd.JSONName(), v.String())
		case fd.Kind() == protoreflect.BoolKind:
			q.Set(fd.JSONName(), v.String())
		case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Timestamp":
			q.Set(fd.JSONName(), v.Message().Interface().(*timestamppb.Timestamp).AsTime().Format(time.RFC3339Nano))
		case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Duration":
			q.Set(fd.JSONName(), v.Message().Interface().(*durationpb.Duration).AsDuration().String())
		}
		return true
	})
	return q
}

// requireSafe checks that a call either succeeded or was refused as the
// caller's mistake, over gRPC and REST, and never failed inside.
func requireSafe(t *testing.T, h *harness, m method, req proto.Message) (proto.Message, error) {
	t.Helper()
	token := m.token
	if token == "" {
		token = viewerToken
	}
	resp, err := m.call(withToken(token), h, req)
	switch status.Code(err) {
	case codes.OK, codes.InvalidArgument, codes.NotFound:
	default:
		t.Fatalf("%s gRPC: %v", m.name, err)
	}
	code, body := restGet(t, h, token, m.path(req), restQuery(req, m.pathFields))
	switch code {
	case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
	default:
		t.Fatalf("%s REST: status %d: %s", m.name, code, body)
	}
	return resp, err
}

// TestHostileStringFilters puts hostile values into every string filter of
// every method: each call returns correct (empty) results or
// InvalidArgument, never an internal error, and the data is intact after.
func TestHostileStringFilters(t *testing.T) {
	eng := sharedEngine(t)
	h := startServer(t, eng)
	hour := func(m proto.Message) {
		r := m.ProtoReflect()
		if fd := r.Descriptor().Fields().ByName("start_time"); fd != nil {
			r.Set(fd, protoreflect.ValueOfMessage(timestamppb.New(querytest.Base).ProtoReflect()))
			r.Set(r.Descriptor().Fields().ByName("end_time"), protoreflect.ValueOfMessage(timestamppb.New(querytest.Now).ProtoReflect()))
		}
	}
	for _, m := range methods() {
		fields := m.new().ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if fd.Kind() != protoreflect.StringKind {
				continue
			}
			for _, val := range hostileStrings {
				name := m.name + "/" + string(fd.Name()) + "/" + val
				if len(name) > 60 {
					name = name[:60]
				}
				t.Run(name, func(t *testing.T) {
					req := m.new()
					hour(req)
					r := req.ProtoReflect()
					if fd.IsList() {
						r.Mutable(fd).List().Append(protoreflect.ValueOfString(val))
					} else {
						r.Set(fd, protoreflect.ValueOfString(val))
					}
					resp, err := requireSafe(t, h, m, req)
					if err != nil || fd.Name() == "scope" {
						return
					}
					// No dataset value looks like these, so a filter that
					// was accepted matches nothing.
					requireEmpty(t, resp)
				})
			}
		}
	}
	// The tables are still there and whole.
	resp, err := h.traces.ListServices(withToken(viewerToken), &taplinev1.ListServicesRequest{
		StartTime: timestamppb.New(querytest.Base), EndTime: timestamppb.New(querytest.Now)})
	require.NoError(t, err)
	require.Len(t, resp.GetServices(), 6)
}

// requireEmpty checks that a search or listing returned nothing.
func requireEmpty(t *testing.T, resp proto.Message) {
	t.Helper()
	switch r := resp.(type) {
	case *taplinev1.SearchTracesResponse:
		require.Empty(t, r.GetTraces())
	case *taplinev1.SearchEventsResponse:
		require.Empty(t, r.GetEvents())
	case *taplinev1.ListOperationsResponse:
		require.Empty(t, r.GetOperations())
	case *taplinev1.ListAttributeKeysResponse:
		require.Empty(t, r.GetKeys())
	case *taplinev1.GetIdentitiesResponse:
		require.Empty(t, r.GetEdges())
	case *taplinev1.Timeline:
		t.Fatalf("a hostile id found a timeline: %v", r)
	}
}

// TestHostileAttributeFilters covers attribute filters: hostile keys and
// values, unknown keys, and malformed filters.
func TestHostileAttributeFilters(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	start, end := timestamppb.New(querytest.Base), timestamppb.New(querytest.Now)
	search := func(attrs ...string) (*taplinev1.SearchTracesResponse, error) {
		return h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{Attributes: attrs, StartTime: start, EndTime: end, Limit: 1000})
	}
	all, err := search()
	require.NoError(t, err)
	require.Len(t, all.GetTraces(), querytest.Background+3)

	for _, v := range hostileStrings {
		for _, f := range []string{"k=" + v, "k!=" + v, "span:" + v, "resource:!" + v, v} {
			resp, err := search(f)
			if err != nil {
				require.Equal(t, codes.InvalidArgument, status.Code(err), "%q: %v", f, err)
				continue
			}
			switch {
			case strings.Contains(f, "!=") || strings.HasPrefix(f, "resource:!") || strings.HasPrefix(v, "!"):
				require.Len(t, resp.GetTraces(), len(all.GetTraces()), "%q excludes nothing", f)
			default:
				require.Empty(t, resp.GetTraces(), "%q matches nothing", f)
			}
		}
	}
	resp, err := search("no.such.key=1")
	require.NoError(t, err)
	require.Empty(t, resp.GetTraces())
	resp, err = search("!no.such.key")
	require.NoError(t, err)
	require.Len(t, resp.GetTraces(), len(all.GetTraces()))

	for _, bad := range []string{"", "=v", "!k=v", "k\x00=v", strings.Repeat("k", 300) + "=v"} {
		_, err := search(bad)
		requireViolation(t, err, "attributes[0]")
	}
	many := make([]string, 17)
	for i := range many {
		many[i] = "k"
	}
	_, err = search(many...)
	requireViolation(t, err, "attributes")
}

// requireViolation checks for InvalidArgument with a field violation on
// field.
func requireViolation(t *testing.T, err error, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, codes.InvalidArgument, st.Code(), "%v", err)
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("no field violation on %q in %v", field, st.Details())
}

// TestAbsurdRangesAndLimits: time ranges and limits outside what the
// configuration allows are refused or capped.
func TestAbsurdRangesAndLimits(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	ctx := withToken(viewerToken)
	at := func(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
	tests := []struct {
		name  string
		req   *taplinev1.SearchTracesRequest
		field string // "" means the call succeeds
	}{
		{"start after end", &taplinev1.SearchTracesRequest{StartTime: at(querytest.Now), EndTime: at(querytest.Base)}, "start_time"},
		{"start equals end", &taplinev1.SearchTracesRequest{StartTime: at(querytest.Base), EndTime: at(querytest.Base)}, "start_time"},
		{"hundred years", &taplinev1.SearchTracesRequest{StartTime: at(querytest.Now.AddDate(-100, 0, 0)), EndTime: at(querytest.Now)}, "start_time"},
		{"year 9999", &taplinev1.SearchTracesRequest{EndTime: at(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))}, "end_time"},
		{"before 1970", &taplinev1.SearchTracesRequest{StartTime: at(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)), EndTime: at(time.Date(1960, 1, 2, 0, 0, 0, 0, time.UTC))}, "start_time"},
		{"bad nanos", &taplinev1.SearchTracesRequest{StartTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}}, "start_time"},
		{"negative limit", &taplinev1.SearchTracesRequest{Limit: -1}, "limit"},
		{"min int limit", &taplinev1.SearchTracesRequest{Limit: -2147483648}, "limit"},
		{"negative duration", &taplinev1.SearchTracesRequest{MinDuration: durationpb.New(-time.Second)}, "min_duration"},
		{"max below min", &taplinev1.SearchTracesRequest{MinDuration: durationpb.New(time.Second), MaxDuration: durationpb.New(time.Millisecond)}, "max_duration"},
		{"huge limit is capped", &taplinev1.SearchTracesRequest{Limit: 2147483647, StartTime: at(querytest.Base), EndTime: at(querytest.Now)}, ""},
		{"end only", &taplinev1.SearchTracesRequest{EndTime: at(querytest.Now)}, ""},
		{"one nanosecond", &taplinev1.SearchTracesRequest{StartTime: at(querytest.Base), EndTime: at(querytest.Base.Add(1))}, ""},
		{"exactly the maximum", &taplinev1.SearchTracesRequest{StartTime: at(querytest.Now.Add(-31 * 24 * time.Hour)), EndTime: at(querytest.Now)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h.traces.SearchTraces(ctx, tt.req)
			if tt.field != "" {
				requireViolation(t, err, tt.field)
				code, body := restGet(t, h, viewerToken, "/traces", restQuery(tt.req, nil))
				if tt.name != "bad nanos" { // REST cannot express invalid nanos
					require.Equal(t, http.StatusBadRequest, code, "%s", body)
				}
				return
			}
			require.NoError(t, err)
			require.LessOrEqual(t, len(resp.GetTraces()), 1000)
		})
	}
	// The same checks guard every method with a window.
	_, err := h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{StartTime: at(querytest.Now), EndTime: at(querytest.Base)})
	requireViolation(t, err, "start_time")
	_, err = h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{Limit: -3})
	requireViolation(t, err, "limit")
	_, err = h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{Sources: []string{"nginx", "router"}})
	requireViolation(t, err, "sources[1]")
	_, err = h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{StatusClass: "6xx"})
	requireViolation(t, err, "status_class")
	_, err = h.events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{TraceId: "xyz"})
	requireViolation(t, err, "trace_id")
	auditor := withToken(auditorToken)
	_, err = h.events.GetTlsPosture(auditor, &taplinev1.GetTlsPostureRequest{Step: durationpb.New(time.Second)})
	requireViolation(t, err, "step")
	_, err = h.events.GetTlsPosture(auditor, &taplinev1.GetTlsPostureRequest{
		StartTime: at(querytest.Now.Add(-30 * 24 * time.Hour)), EndTime: at(querytest.Now), Step: durationpb.New(time.Minute)})
	requireViolation(t, err, "step")
	_, err = h.pipeline.GetPipelineHealth(auditor, &taplinev1.GetPipelineHealthRequest{StartTime: at(querytest.Now.AddDate(-1, 0, 0))})
	requireViolation(t, err, "start_time")
	_, err = h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: "00000000000000000000000000000000"})
	requireViolation(t, err, "trace_id")
	_, err = h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{})
	requireViolation(t, err, "request_id")
}
