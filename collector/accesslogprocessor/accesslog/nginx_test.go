package accesslog

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/event"
)

const mtlsLine = `{"time_iso8601":"2026-03-01T10:00:00+00:00","msec":"1772359200.250","request_id":"0123456789abcdef0123456789abcdef","http_x_request_id":"","http_traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","remote_addr":"192.0.2.10","remote_port":"51234","request_method":"POST","scheme":"https","host":"api.example.com","request_uri":"/v1/orders?limit=5&x=\"q\"","server_protocol":"HTTP/2.0","status":"201","request_length":"512","body_bytes_sent":"64","request_time":"0.050","upstream_addr":"127.0.0.1:9000","upstream_status":"201","upstream_response_time":"0.049","http_user_agent":"curl/8.5.0","ssl_protocol":"TLSv1.3","ssl_cipher":"TLS_AES_256_GCM_SHA384","ssl_session_reused":".","ssl_server_name":"api.example.com","ssl_client_verify":"SUCCESS","ssl_client_s_dn":"CN=client-a,O=Example\\, Inc.","ssl_client_i_dn":"CN=Example CA","ssl_client_serial":"1f2e3d","ssl_client_fingerprint":"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678","ssl_client_v_end":"Dec  1 23:59:59 2026 GMT"}`

func TestNginxJSON(t *testing.T) {
	tests := []struct {
		name string
		line string
		want accesslogtest.Record
		res  Result
	}{
		{
			name: "mtls request with traceparent",
			line: mtlsLine,
			res:  Result{Format: FormatJSON, Mapped: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200200000000, // msec minus request_time
				TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
				SpanID:    "00f067aa0ba902b7",
				Attributes: map[string]any{
					event.AttrSource:             event.SourceNginx,
					event.AttrRequestID:          "0123456789abcdef0123456789abcdef",
					event.AttrHTTPMethod:         "POST",
					event.AttrURLScheme:          "https",
					event.AttrServerAddress:      "api.example.com",
					event.AttrURLPath:            "/v1/orders",
					event.AttrURLQuery:           `limit=5&x="q"`,
					event.AttrNetworkProtocol:    "2",
					event.AttrHTTPStatus:         int64(201),
					event.AttrHTTPRequestSize:    int64(512),
					event.AttrHTTPResponseSize:   int64(64),
					event.AttrDurationNanos:      int64(50_000_000),
					event.AttrClientAddress:      "192.0.2.10",
					event.AttrClientPort:         int64(51234),
					event.AttrUpstreamAddress:    "127.0.0.1:9000",
					event.AttrUpstreamStatus:     "201",
					event.AttrUpstreamRespTime:   "0.049",
					event.AttrUserAgent:          "curl/8.5.0",
					event.AttrTLSProtocolVersion: "1.3",
					event.AttrTLSCipher:          "TLS_AES_256_GCM_SHA384",
					event.AttrTLSResumed:         false,
					event.AttrTLSServerName:      "api.example.com",
					event.AttrClientVerify:       "SUCCESS",
					event.AttrMTLSVerified:       true,
					event.AttrTLSClientSubject:   `CN=client-a,O=Example\, Inc.`,
					event.AttrTLSClientIssuer:    "CN=Example CA",
					event.AttrTLSClientSerial:    "1F2E3D",
					event.AttrTLSClientNotAfter:  "2026-12-01T23:59:59Z",
					event.AttrTLSClientHashSHA1:  "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
					event.AttrPrincipal:          `CN=client-a,O=Example\, Inc.`,
					event.AttrPrincipalType:      event.PrincipalCert,
					event.AttrRaw:                mtlsLine,
				},
			},
		},
		{
			name: "plain http, no tls, incoming request id kept, tls1.2 openssl cipher absent",
			line: `{"msec":"1772359200.000","request_id":"aaaabbbbccccddddaaaabbbbccccdddd","http_x_request_id":"client-id-1","remote_addr":"::1","remote_port":"4000","request_method":"GET","scheme":"http","host":"localhost","request_uri":"/","server_protocol":"HTTP/1.1","status":"200","request_time":"0.000","ssl_protocol":"","ssl_client_verify":""}`,
			res:  Result{Format: FormatJSON, Mapped: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200000000000,
				Attributes: map[string]any{
					event.AttrSource:            event.SourceNginx,
					event.AttrRequestID:         "aaaabbbbccccddddaaaabbbbccccdddd",
					event.AttrIncomingRequestID: "client-id-1",
					event.AttrHTTPMethod:        "GET",
					event.AttrURLScheme:         "http",
					event.AttrServerAddress:     "localhost",
					event.AttrURLPath:           "/",
					event.AttrNetworkProtocol:   "1.1",
					event.AttrHTTPStatus:        int64(200),
					event.AttrDurationNanos:     int64(0),
					event.AttrClientAddress:     "::1",
					event.AttrClientPort:        int64(4000),
					event.AttrPrincipalType:     event.PrincipalAnonymous,
				},
			},
		},
		{
			name: "failed client verification, openssl tls1.2 cipher mapped",
			line: `{"msec":"1772359200.5","request_id":"r1","request_method":"GET","status":"400","ssl_protocol":"TLSv1.2","ssl_cipher":"ECDHE-RSA-AES128-GCM-SHA256","ssl_session_reused":"r","ssl_client_verify":"FAILED:certificate has expired","ssl_client_s_dn":"CN=old"}`,
			res:  Result{Format: FormatJSON, Mapped: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200500000000,
				Attributes: map[string]any{
					event.AttrSource:             event.SourceNginx,
					event.AttrRequestID:          "r1",
					event.AttrHTTPMethod:         "GET",
					event.AttrHTTPStatus:         int64(400),
					event.AttrTLSProtocolVersion: "1.2",
					event.AttrTLSCipher:          "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
					event.AttrTLSResumed:         true,
					event.AttrClientVerify:       "FAILED:certificate has expired",
					event.AttrMTLSVerified:       false,
					event.AttrTLSClientSubject:   "CN=old",
					event.AttrPrincipalType:      event.PrincipalAnonymous,
					// Nginx answered 400 itself (no upstream): a denial.
					event.AttrDecision: event.DecisionDeny,
					event.AttrReason:   event.TLSFailureExpired,
				},
			},
		},
		{
			name: "failed client verification passed upstream (optional_no_ca): no decision",
			line: `{"msec":"1772359200.5","request_id":"r2","status":"400","upstream_addr":"10.0.0.7:8443","ssl_client_verify":"FAILED:unable to get local issuer certificate"}`,
			res:  Result{Format: FormatJSON, Mapped: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200500000000,
				Attributes: map[string]any{
					event.AttrSource:          event.SourceNginx,
					event.AttrRequestID:       "r2",
					event.AttrHTTPStatus:      int64(400),
					event.AttrUpstreamAddress: "10.0.0.7:8443",
					event.AttrClientVerify:    "FAILED:unable to get local issuer certificate",
					event.AttrMTLSVerified:    false,
					event.AttrPrincipalType:   event.PrincipalAnonymous,
				},
			},
		},
		{
			name: "cut by syslog: leading fields kept",
			line: mtlsLine[:400],
			res:  Result{Format: FormatJSON, Mapped: true, Truncated: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200250000000,
				TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
				SpanID:    "00f067aa0ba902b7",
				Attributes: map[string]any{
					event.AttrSource:        event.SourceNginx,
					event.AttrRequestID:     "0123456789abcdef0123456789abcdef",
					event.AttrHTTPMethod:    "POST",
					event.AttrURLScheme:     "https",
					event.AttrServerAddress: "api.example.com",
					event.AttrURLPath:       "/v1/orders",
					event.AttrURLQuery:      `limit=5&x="q"`,
					event.AttrClientAddress: "192.0.2.10",
					event.AttrClientPort:    int64(51234),
					event.AttrPrincipalType: event.PrincipalAnonymous,
					event.AttrParseError:    "json line cut short",
				},
			},
		},
		{
			name: "wrong types: fields left out, the rest kept",
			line: `{"msec":"1772359200.000","request_id":"r2","request_method":"GET","status":{"code":200},"body_bytes_sent":"lots","remote_port":true,"request_length":128,"http_user_agent":null,"ssl_session_reused":"maybe"}`,
			res:  Result{Format: FormatJSON, Mapped: true, BadFields: 4},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200000000000,
				Attributes: map[string]any{
					event.AttrSource:          event.SourceNginx,
					event.AttrRequestID:       "r2",
					event.AttrHTTPMethod:      "GET",
					event.AttrHTTPRequestSize: int64(128),
					event.AttrPrincipalType:   event.PrincipalAnonymous,
					event.AttrParseError:      `wrong type for "status"; bad body_bytes_sent; wrong type for "remote_port"; bad ssl_session_reused`,
				},
			},
		},
		{
			name: "invalid utf-8 replaced",
			line: "{\"msec\":\"1772359200.000\",\"request_id\":\"r3\",\"request_method\":\"GET\",\"request_uri\":\"/caf\xe9\"}",
			res:  Result{Format: FormatJSON, Mapped: true, InvalidUTF8: true},
			want: accesslogtest.Record{
				EventName: event.AccessEvent,
				Timestamp: 1772359200000000000,
				Attributes: map[string]any{
					event.AttrSource:        event.SourceNginx,
					event.AttrRequestID:     "r3",
					event.AttrHTTPMethod:    "GET",
					event.AttrURLPath:       "/caf\uFFFD",
					event.AttrPrincipalType: event.PrincipalAnonymous,
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := plog.NewLogRecord()
			var p NginxParser
			res := p.Map([]byte(tt.line), rec)
			require.Equal(t, tt.res, res)
			got := accesslogtest.Dump(rec, plog.NewResourceLogs().Resource())
			raw, _ := validUTF8([]byte(tt.line))
			require.Equal(t, raw, got.Attributes[event.AttrRaw], "raw line kept whole")
			if _, ok := tt.want.Attributes[event.AttrRaw]; !ok {
				tt.want.Attributes[event.AttrRaw] = raw
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNginxCombined(t *testing.T) {
	line := `203.0.113.7 - alice [01/Mar/2026:11:00:00 +0100] "GET /index.html?lang=en HTTP/1.1" 404 153 "https://ref.example/" "Mozilla/5.0 (X11; \x22quoted\x22)"`
	rec := plog.NewLogRecord()
	var p NginxParser
	res := p.Map([]byte(line), rec)
	require.Equal(t, Result{Format: FormatCombined, Mapped: true}, res)
	require.Equal(t, accesslogtest.Record{
		EventName: event.AccessEvent,
		Timestamp: 1772359200000000000,
		Attributes: map[string]any{
			event.AttrSource:           event.SourceNginx,
			event.AttrClientAddress:    "203.0.113.7",
			event.AttrEnduserID:        "alice",
			event.AttrHTTPMethod:       "GET",
			event.AttrURLPath:          "/index.html",
			event.AttrURLQuery:         "lang=en",
			event.AttrNetworkProtocol:  "1.1",
			event.AttrHTTPStatus:       int64(404),
			event.AttrHTTPResponseSize: int64(153),
			event.AttrUserAgent:        `Mozilla/5.0 (X11; "quoted")`,
			event.AttrPrincipalType:    event.PrincipalAnonymous,
			event.AttrRaw:              line,
		},
	}, accesslogtest.Dump(rec, plog.NewResourceLogs().Resource()))

	// A probe sending junk logs its bytes escaped as the request.
	junk := `198.51.100.1 - - [01/Mar/2026:11:00:00 +0000] "\x16\x03\x01\x00" 400 157 "-" "-"`
	rec = plog.NewLogRecord()
	res = p.Map([]byte(junk), rec)
	require.Equal(t, Result{Format: FormatCombined, Mapped: true}, res)
	require.Equal(t, "bad request line", rec.Attributes().AsRaw()[event.AttrParseError])
	require.Equal(t, int64(400), rec.Attributes().AsRaw()[event.AttrHTTPStatus])
}

func TestNginxUnparseable(t *testing.T) {
	tests := []struct {
		name, line string
		res        Result
	}{
		{"binary garbage", "\x00\x01\x02\xff\xfe garbage", Result{InvalidUTF8: true}},
		{"empty", "", Result{}},
		{"json without request fields", `{"hello":"world"}`, Result{Format: FormatJSON}},
		{"json array", `[1,2,3]`, Result{}},
		{"json cut before any field", `{"msec":"17723`, Result{Format: FormatJSON, Truncated: true}},
		{"app log line", `2026-03-01 INFO started`, Result{}},
		{"megabyte line", strings.Repeat("x", 1<<20), Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := plog.NewLogRecord()
			var p NginxParser
			require.Equal(t, tt.res, p.Map([]byte(tt.line), rec))
			require.Empty(t, rec.EventName(), "not an access event")
			raw, _ := validUTF8([]byte(tt.line))
			require.Equal(t, raw, rec.Body().Str(), "line kept in the body")
			attrs := rec.Attributes().AsRaw()
			require.Equal(t, event.SourceNginx, attrs[event.AttrSource])
			require.NotEmpty(t, attrs[event.AttrParseError])
		})
	}
}

func TestVerifyFailure(t *testing.T) {
	for text, want := range map[string]string{
		"certificate has expired":                      event.TLSFailureExpired,
		"certificate is not yet valid":                 event.TLSFailureNotYetValid,
		"unable to get local issuer certificate":       event.TLSFailureUnknownCA,
		"self-signed certificate":                      event.TLSFailureUnknownCA,
		"self signed certificate in certificate chain": event.TLSFailureUnknownCA,
		"unable to verify the first certificate":       event.TLSFailureUnknownCA,
		"certificate revoked":                          event.TLSFailureBadCertificate,
	} {
		require.Equal(t, want, VerifyFailure(text), text)
	}
}
