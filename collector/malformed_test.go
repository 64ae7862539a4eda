package collector

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

const traceExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawCodec sends bytes as they are, so a test can put anything on the wire
// as an OTLP gRPC request.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// validJSON is one span in OTLP/JSON.
const validJSON = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json"}}]},
 "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
 "name":"GET /","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000001000000"}]}]}]}`

// wrongIDProto is an ExportTraceServiceRequest whose only span has a 5-byte
// trace id.
var wrongIDProto = []byte{0x0a, 0x0b, 0x12, 0x09, 0x12, 0x07, 0x0a, 0x05, 1, 2, 3, 4, 5}

func postHTTP(t *testing.T, addr, contentType string, body []byte) int {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/v1/traces", contentType, bytes.NewReader(body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// TestMalformedOTLP sends undecodable and oversized requests: each gets a
// non-retryable client error (or a size error), is counted by response code,
// stores nothing, and the collector stores the next valid request.
func TestMalformedOTLP(t *testing.T) {
	tc := startCollector(t, natsexportertest.Options{})
	huge := bytes.Repeat([]byte{0x0a}, 50<<20)

	httpCases := []struct {
		name        string
		contentType string
		body        []byte
		want        int
	}{
		{"garbage protobuf", "application/x-protobuf", []byte("\xff\xff\xffnot protobuf"), http.StatusBadRequest},
		{"invalid json", "application/json", []byte(`{"resourceSpans": [`), http.StatusBadRequest},
		{"json id of wrong length", "application/json", []byte(strings.Replace(validJSON, "5b8efff798038103d269b633813fc60c", "5b8e", 1)), http.StatusBadRequest},
		{"protobuf id of wrong length", "application/x-protobuf", wrongIDProto, http.StatusBadRequest},
		{"unsupported content type", "text/plain", []byte("hello"), http.StatusUnsupportedMediaType},
		{"50 MB", "application/x-protobuf", huge, http.StatusBadRequest},
	}
	bad400 := 0
	for _, c := range httpCases {
		t.Run("http/"+c.name, func(t *testing.T) {
			require.Equal(t, c.want, postHTTP(t, tc.httpAddr, c.contentType, c.body))
			require.Equal(t, http.StatusOK, postHTTP(t, tc.httpAddr, "application/json", []byte(validJSON)), "the next valid request")
		})
		if c.want == http.StatusBadRequest {
			bad400++
		}
	}

	conn, err := grpc.NewClient(tc.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	valid := ptraceotlp.NewExportRequest()
	require.NoError(t, valid.UnmarshalJSON([]byte(validJSON)))
	// grpc-go decodes the request before the receiver sees it and would
	// answer INTERNAL for undecodable bytes; the grpc_decode extension in the
	// built-in configuration makes it INVALID_ARGUMENT, as OTLP/HTTP's 400.
	grpcCases := []struct {
		name string
		body []byte
		want codes.Code
	}{
		{"garbage protobuf", []byte("\xff\xff\xffnot protobuf"), codes.InvalidArgument},
		{"protobuf id of wrong length", wrongIDProto, codes.InvalidArgument},
		{"50 MB", huge, codes.ResourceExhausted},
	}
	for _, c := range grpcCases {
		t.Run("grpc/"+c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out []byte
			err := conn.Invoke(ctx, traceExportMethod, &c.body, &out, grpc.ForceCodec(rawCodec{}))
			require.Equal(t, c.want, status.Code(err), "%v", err)
			_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, valid)
			require.NoError(t, err, "the next valid request")
		})
	}

	// Only the valid requests were stored: one span each (the same span,
	// deduplicated by content inside the stream's window, so compare
	// accepted spans instead of stored messages).
	messages, spans := tc.nats.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 1, messages, "identical valid requests are stored once")
	require.Equal(t, 1, spans)
	require.EqualValues(t, len(httpCases)+len(grpcCases), tc.metric(t, "otelcol_receiver_accepted_spans_total"))
	require.EqualValues(t, len(httpCases)+len(grpcCases)-1, tc.metric(t, "tapline_natsexporter_duplicate_messages_total"))

	// Refused requests are counted by response code.
	require.EqualValues(t, bad400, tc.metric(t, "http_server_request_duration_seconds", "http_response_status_code", "400"))
	require.EqualValues(t, 1, tc.metric(t, "http_server_request_duration_seconds", "http_response_status_code", "415"))
	require.EqualValues(t, 2, tc.metric(t, "rpc_server_call_duration_seconds", "rpc_response_status_code", "INVALID_ARGUMENT"))
	require.EqualValues(t, 1, tc.metric(t, "rpc_server_call_duration_seconds", "rpc_response_status_code", "RESOURCE_EXHAUSTED"))
	require.True(t, tc.Ready())
}
