package query_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
)

// apiCase is one request made over gRPC and over REST.
type apiCase struct {
	name  string
	token string
	path  string     // REST path under /api/v1
	query url.Values // REST query
	call  func(ctx context.Context, h *harness) (proto.Message, error)
}

func ts(t time.Time) string { return t.Format(time.RFC3339Nano) }

func hour() url.Values {
	return url.Values{"startTime": {ts(querytest.Base)}, "endTime": {ts(querytest.Now)}}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

func apiCases() []apiCase {
	start, end := timestamppb.New(querytest.Base), timestamppb.New(querytest.Now)
	traces := func(r *taplinev1.SearchTracesRequest) func(context.Context, *harness) (proto.Message, error) {
		return func(ctx context.Context, h *harness) (proto.Message, error) { return h.traces.SearchTraces(ctx, r) }
	}
	events := func(r *taplinev1.SearchEventsRequest) func(context.Context, *harness) (proto.Message, error) {
		return func(ctx context.Context, h *harness) (proto.Message, error) { return h.events.SearchEvents(ctx, r) }
	}
	return []apiCase{
		{name: "search_traces_default", path: "/traces", query: url.Values{"limit": {"3"}},
			call: traces(&taplinev1.SearchTracesRequest{Limit: 3})},
		{name: "search_traces_tier_gold", path: "/traces", query: with(hour(), "serviceName", "catalog", "attributes", "customer.tier=gold", "limit", "4"),
			call: traces(&taplinev1.SearchTracesRequest{ServiceName: "catalog", Attributes: []string{"customer.tier=gold"}, StartTime: start, EndTime: end, Limit: 4})},
		{name: "search_traces_errors", path: "/traces", query: with(hour(), "errorsOnly", "true", "spanName", "check stock"),
			call: traces(&taplinev1.SearchTracesRequest{ErrorsOnly: true, SpanName: "check stock", StartTime: start, EndTime: end})},
		{name: "search_traces_staging", path: "/traces", query: with(hour(), "attributes", "resource:deployment.environment=staging", "attributes", "span:db.system"),
			call: traces(&taplinev1.SearchTracesRequest{Attributes: []string{"resource:deployment.environment=staging", "span:db.system"}, StartTime: start, EndTime: end})},
		{name: "search_traces_not_gold_slow", path: "/traces", query: with(hour(), "attributes", "customer.tier!=gold", "attributes", "!payment.provider", "minDuration", "0.035s", "maxDuration", "1s", "serviceName", "catalog"),
			call: traces(&taplinev1.SearchTracesRequest{Attributes: []string{"customer.tier!=gold", "!payment.provider"}, ServiceName: "catalog",
				MinDuration: durationpb.New(35 * time.Millisecond), MaxDuration: durationpb.New(time.Second), StartTime: start, EndTime: end})},
		{name: "search_traces_principal", path: "/traces", query: with(hour(), "principal", querytest.FrontendSPIFFE),
			call: traces(&taplinev1.SearchTracesRequest{Principal: querytest.FrontendSPIFFE, StartTime: start, EndTime: end})},
		{name: "search_traces_request_id", path: "/traces", query: with(hour(), "requestId", querytest.DeniedRequestID),
			call: traces(&taplinev1.SearchTracesRequest{RequestId: querytest.DeniedRequestID, StartTime: start, EndTime: end})},
		{name: "search_traces_hostile_value", path: "/traces", query: with(hour(), "attributes", "note="+querytest.HostileNote),
			call: traces(&taplinev1.SearchTracesRequest{Attributes: []string{"note=" + querytest.HostileNote}, StartTime: start, EndTime: end})},
		{name: "get_trace_checkout", path: "/traces/" + querytest.CheckoutTraceID,
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: querytest.CheckoutTraceID})
			}},
		{name: "get_request_denied", path: "/requests/" + querytest.DeniedRequestID,
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: querytest.DeniedRequestID})
			}},
		{name: "get_request_mesh", path: "/requests/" + querytest.MeshRequestID,
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: querytest.MeshRequestID})
			}},
		{name: "search_events_tap", path: "/events", query: with(hour(), "sources", "tap", "sources", "nginx", "limit", "10"),
			call: events(&taplinev1.SearchEventsRequest{Sources: []string{"tap", "nginx"}, StartTime: start, EndTime: end, Limit: 10})},
		{name: "search_events_5xx", path: "/events", query: with(hour(), "statusClass", "5xx", "method", "get", "pathPrefix", "/catalog/items/1"),
			call: events(&taplinev1.SearchEventsRequest{StatusClass: "5xx", Method: "get", PathPrefix: "/catalog/items/1", StartTime: start, EndTime: end})},
		{name: "search_events_denied_tls13", path: "/events", query: with(hour(), "decision", "deny", "tlsVersion", "1.3", "principal", querytest.IntruderSPIFFE),
			call: events(&taplinev1.SearchEventsRequest{Decision: "deny", TlsVersion: "1.3", Principal: querytest.IntruderSPIFFE, StartTime: start, EndTime: end})},
		{name: "search_events_no_tls_service", path: "/events", query: with(hour(), "tlsVersion", "none", "serviceName", "catalog", "limit", "3"),
			call: events(&taplinev1.SearchEventsRequest{TlsVersion: "none", ServiceName: "catalog", StartTime: start, EndTime: end, Limit: 3})},
		{name: "search_events_trace", path: "/events", query: with(hour(), "traceId", querytest.CheckoutTraceID),
			call: events(&taplinev1.SearchEventsRequest{TraceId: querytest.CheckoutTraceID, StartTime: start, EndTime: end})},
		{name: "list_services", path: "/services",
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.ListServices(ctx, &taplinev1.ListServicesRequest{})
			}},
		{name: "list_operations", path: "/services/orders/operations",
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.ListOperations(ctx, &taplinev1.ListOperationsRequest{ServiceName: "orders"})
			}},
		{name: "list_attribute_keys", path: "/attribute-keys", query: with(hour(), "serviceName", "catalog"),
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.ListAttributeKeys(ctx, &taplinev1.ListAttributeKeysRequest{ServiceName: "catalog", StartTime: start, EndTime: end})
			}},
		{name: "list_attribute_keys_day_sampled", path: "/attribute-keys", query: url.Values{"scope": {"span"}},
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.traces.ListAttributeKeys(ctx, &taplinev1.ListAttributeKeysRequest{Scope: "span"})
			}},
		{name: "get_identities", token: auditorToken, path: "/identities", query: hour(),
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.events.GetIdentities(ctx, &taplinev1.GetIdentitiesRequest{StartTime: start, EndTime: end})
			}},
		{name: "get_tls_posture", token: auditorToken, path: "/tls/posture", query: with(hour(), "step", "900s"),
			call: func(ctx context.Context, h *harness) (proto.Message, error) {
				return h.events.GetTlsPosture(ctx, &taplinev1.GetTlsPostureRequest{StartTime: start, EndTime: end, Step: durationpb.New(15 * time.Minute)})
			}},
	}
}

var jsonOpts = protojson.MarshalOptions{EmitUnpopulated: true}

// normJSON re-indents JSON so that equal documents compare equal as text.
func normJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "body: %s", b)
	out, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

func restGet(t *testing.T, h *harness, token, path string, q url.Values) (int, []byte) {
	t.Helper()
	u := h.http.URL + "/api/v1" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// TestRESTAndGRPCAgree makes every request over both transports, checks
// that the answers are the same, and compares them with golden files
// (go test -update rewrites them).
func TestRESTAndGRPCAgree(t *testing.T) {
	h := startServer(t, sharedEngine(t))
	for _, tc := range apiCases() {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = viewerToken
			}
			msg, err := tc.call(withToken(token), h)
			require.NoError(t, err)
			grpcJSON, err := jsonOpts.Marshal(msg)
			require.NoError(t, err)

			code, body := restGet(t, h, token, tc.path, tc.query)
			require.Equal(t, http.StatusOK, code, "body: %s", body)
			require.Equal(t, string(normJSON(t, grpcJSON)), string(normJSON(t, body)), "REST and gRPC differ")

			path := filepath.Join("testdata", "golden", tc.name+".json")
			got := normJSON(t, body)
			if *query.UpdateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create the golden file")
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestGoldenFilesUsed fails when a golden file no case writes is left over.
func TestGoldenFilesUsed(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range apiCases() {
		names[tc.name+".json"] = true
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if os.IsNotExist(err) {
		t.Skip("no golden files yet")
	}
	require.NoError(t, err)
	for _, e := range entries {
		require.True(t, names[e.Name()], "golden file %s belongs to no test case", e.Name())
	}
}
