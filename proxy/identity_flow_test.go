package proxy_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/proxytest"
)

// TestUpstreamSeesTraceAndIdentity: the FastAPI application receives the
// trace context, the request id and the identity headers, and the ids it
// saw (and logged) are the ones in the tap's events and span.
func TestUpstreamSeesTraceAndIdentity(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "orders", SPIFFEID: workloadID})

	t.Run("continues an incoming trace", func(t *testing.T) {
		const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		res := f.get(t, cert, "/api/items", http.Header{
			"Traceparent":  {"00-" + traceID + "-" + parent + "-01"},
			"Tracestate":   {"vendor=opaque"},
			"X-Request-Id": {"chosen-by-client"},
		})
		require.Equal(t, http.StatusOK, res.status)
		tp := strings.Split(res.echo.Header(t, "traceparent"), "-")
		require.Len(t, tp, 4)
		require.Equal(t, traceID, tp[1])
		require.NotEqual(t, parent, tp[2], "the upstream's parent is the tap's span")
		require.Equal(t, "01", tp[3])
		require.Equal(t, "vendor=opaque", res.echo.Header(t, "tracestate"))
		require.Regexp(t, hex32, res.echo.RequestID, "a client that is not a trusted proxy does not choose the request id")
		require.Equal(t, workloadID, res.echo.Header(t, proxy.HeaderPrincipal))
		require.Equal(t, event.PrincipalSPIFFE, res.echo.Header(t, proxy.HeaderPrincipalType))
		require.Equal(t, workloadID, res.echo.Header(t, proxy.HeaderSPIFFEID))
		require.Equal(t, identity.CertFromX509(cert.Cert).Fingerprint, res.echo.Header(t, proxy.HeaderClientSHA256))
		require.Equal(t, event.DecisionAllow, res.echo.Header(t, proxy.HeaderDecision))
		require.Equal(t, "127.0.0.1", res.echo.Header(t, "x-forwarded-for"))
		require.Equal(t, "https", res.echo.Header(t, "x-forwarded-proto"))

		acc := f.accessEvent(t, res.echo.RequestID)
		require.Equal(t, traceID, acc.TraceID)
		require.Equal(t, tp[2], acc.SpanID)
		span := f.events.FindSpan(t, 10*time.Second, func(s proxytest.Span) bool { return s.SpanID == tp[2] })
		require.Equal(t, traceID, span.TraceID)
		require.Equal(t, parent, span.ParentSpanID)
		require.Equal(t, "Server", span.Kind)
		require.Equal(t, "GET /", span.Name)
		require.Equal(t, res.echo.RequestID, span.Attrs[event.AttrRequestID])
		require.Equal(t, "tapline-proxy", span.Resource[event.AttrServiceName])

		// The application logged the same ids.
		require.Eventually(t, func() bool {
			for _, l := range f.app.Logged() {
				if l["request_id"] == res.echo.RequestID && l["trace_id"] == traceID && l["principal"] == workloadID {
					return true
				}
			}
			return false
		}, 10*time.Second, 20*time.Millisecond)
	})

	t.Run("starts a trace", func(t *testing.T) {
		for _, bad := range []string{"", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage"} {
			res := f.get(t, cert, "/api/new", http.Header{"Traceparent": {bad}, "Tracestate": {"vendor=stale"}})
			require.Equal(t, http.StatusOK, res.status)
			tp := strings.Split(res.echo.Header(t, "traceparent"), "-")
			require.Len(t, tp, 4, bad)
			require.Regexp(t, hex32, tp[1])
			require.NotContains(t, bad, tp[1])
			require.Empty(t, res.echo.Header(t, "tracestate"), "tracestate goes with the traceparent it belonged to")
			acc := f.accessEvent(t, res.echo.RequestID)
			require.Equal(t, tp[1], acc.TraceID)
			span := f.events.FindSpan(t, 10*time.Second, func(s proxytest.Span) bool { return s.SpanID == tp[2] })
			require.Empty(t, span.ParentSpanID)
		}
	})
}

// TestHeaderSpoofing: identity headers from a client that is not a trusted
// proxy never reach the upstream, whatever their spelling.
func TestHeaderSpoofing(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	dev := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "dev", SPIFFEID: "spiffe://example.org/ns/dev/sa/web"})
	spoof := http.Header{
		"X-Tapline-Principal":     {"spiffe://example.org/ns/prod/sa/admin"},
		"X-Tapline-Spiffe-Id":     {"spiffe://example.org/ns/prod/sa/admin"},
		"X_Tapline_Principal":     {"underscore-admin"},
		"x-tapline-jwt-subject":   {"root"},
		"X-Tapline-Decision":      {"allow"},
		"X-Forwarded-Client-Cert": {"URI=spiffe://example.org/ns/prod/sa/admin"},
		"X-Request-Id":            {"forged"},
		"X_Request_Id":            {"forged-too"},
		"X-Forwarded-For":         {"10.9.9.9"},
		// Listing our header as hop-by-hop must not strip what the proxy sets.
		"Connection": {"X-Tapline-Principal, X-Tapline-Spiffe-Id"},
	}
	res := f.get(t, dev, "/api/whoami", spoof)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "spiffe://example.org/ns/dev/sa/web", res.echo.Header(t, proxy.HeaderPrincipal))
	require.Equal(t, "spiffe://example.org/ns/dev/sa/web", res.echo.Header(t, proxy.HeaderSPIFFEID))
	require.Equal(t, event.DecisionAllow, res.echo.Header(t, proxy.HeaderDecision))
	require.NotEqual(t, "forged", res.echo.RequestID)
	require.Equal(t, "127.0.0.1", res.echo.Header(t, "x-forwarded-for"))
	for name := range res.echo.Headers {
		norm := strings.ReplaceAll(name, "_", "-")
		require.NotEqual(t, "x-forwarded-client-cert", norm)
		require.NotEqual(t, "x-tapline-jwt-subject", norm)
		if strings.HasPrefix(norm, "x-tapline-") || norm == "x-request-id" {
			require.Equal(t, norm, name, "only the proxy's own spelling reaches the upstream: %s", name)
		}
	}

	acc := f.accessEvent(t, res.echo.RequestID)
	require.Equal(t, "URI=spiffe://example.org/ns/prod/sa/admin", acc.Str(event.AttrXFCC), "what was sent is on record")
	var chain []identity.Entry
	require.NoError(t, json.Unmarshal([]byte(acc.Str(event.AttrIdentityChain)), &chain))
	require.Len(t, chain, 2)
	require.Equal(t, identity.SourceXFCC, chain[0].Source)
	require.Equal(t, identity.ReasonXFCCUntrusted, chain[0].Reason)
	require.False(t, chain[0].Verified)

	// Spoofed headers do not open a route the certificate cannot.
	denied := f.get(t, dev, "/admin/users", spoof)
	require.Equal(t, http.StatusForbidden, denied.status)
	require.Equal(t, "spiffe-id-not-allowed", denied.problem["reason"])
}

// TestXFCC: x-forwarded-client-cert names the caller only when the direct
// peer is a trusted proxy, by SPIFFE ID or by address.
func TestXFCC(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	const caller = "spiffe://example.org/ns/prod/sa/checkout"
	xfcc := `By=` + sidecarID + `;Hash=ABCDEF0123;Subject="CN=checkout,O=Shop";URI=` + caller
	sidecar := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "sidecar", SPIFFEID: sidecarID})
	nginx := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "nginx"})
	devApp := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "dev", SPIFFEID: "spiffe://example.org/ns/dev/sa/web"})
	from := func(ip string) func(*http.Transport) {
		return func(tr *http.Transport) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
			tr.DialContext = d.DialContext
		}
	}
	tests := []struct {
		name      string
		cert      *proxytest.Issued
		dial      func(*http.Transport)
		trusted   bool
		principal string
	}{
		{"trusted by spiffe id", sidecar, nil, true, caller},
		{"trusted by address", nginx, from("127.0.0.2"), true, caller},
		{"untrusted", devApp, nil, false, "spiffe://example.org/ns/dev/sa/web"},
		{"trusted spiffe id pattern, untrusted address does not matter", sidecar, from("127.0.0.3"), true, caller},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.client(tc.cert, tc.dial)
			defer c.CloseIdleConnections()
			reqID := "mesh-" + strings.ReplaceAll(tc.name, " ", "-")
			res := f.do(t, c, http.MethodGet, "/admin/orders", http.Header{"X-Forwarded-Client-Cert": {xfcc}, "X-Request-Id": {reqID}}, nil)
			acc := f.accessEvent(t, res.requestID())
			require.Equal(t, tc.principal, acc.Str(event.AttrPrincipal))
			require.Equal(t, xfcc, acc.Str(event.AttrXFCC))
			if tc.trusted {
				require.Equal(t, http.StatusOK, res.status, string(res.body))
				require.Equal(t, reqID, res.echo.RequestID, "a trusted proxy's request id is kept")
				require.Equal(t, tc.principal, res.echo.Header(t, proxy.HeaderPrincipal))
				require.Equal(t, xfcc, res.echo.Header(t, "x-forwarded-client-cert"))
				require.Equal(t, caller, res.echo.Header(t, proxy.HeaderSPIFFEID))
				require.Equal(t, "spiffe-id-allowed", acc.Str(event.AttrReason))
				var chain []identity.Entry
				require.NoError(t, json.Unmarshal([]byte(acc.Str(event.AttrIdentityChain)), &chain))
				require.Equal(t, identity.SourceXFCC, chain[0].Source)
				require.True(t, chain[0].Principal)
				require.Equal(t, sidecarID, chain[0].By)
				require.Equal(t, identity.SourcePeer, chain[len(chain)-1].Source)
				return
			}
			require.Equal(t, http.StatusForbidden, res.status)
			require.Equal(t, "spiffe-id-not-allowed", res.problem["reason"])
			require.NotEqual(t, reqID, res.requestID())
		})
	}
}
