package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/demo"
	"github.com/tapline/tapline/demo/pki"
	"github.com/tapline/tapline/demo/telemetry"
	"github.com/tapline/tapline/demo/traffic"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/query/querytest"
)

// requireParts skips the test when Nginx or a python3 with FastAPI is
// missing, unless CI is set: then it fails (make test installs them).
func requireParts(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := demo.Nginx(); err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := demo.Python(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		querytest.SkipWithoutChDB(t)
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("the end-to-end test needs: %s (make test installs them; CI is set, so it cannot be skipped)", strings.Join(missing, "; "))
	}
	t.Skipf("skipping the end-to-end test: %s (make deps installs them; under CI=true this fails)", strings.Join(missing, "; "))
}

// TestDemoStack runs the demo stack, sends two rounds of the demo's traffic
// mix and checks what Tapline recorded: each request's hops joined by
// request and trace id, the denials and the expired certificate with their
// reasons, the compliance report's findings, and one request in the UI.
func TestDemoStack(t *testing.T) {
	requireParts(t)
	bin := taplineBinary(t)
	ports, err := demo.FreePorts()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	stack, err := demo.Start(ctx, demo.Options{Dir: t.TempDir(), Tapline: bin, Root: repoRoot(t), Ports: ports})
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the stack:\n%s", stack.Logs(3000))
		}
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		assert.NoError(t, stack.Stop(sctx))
	})

	sdk, err := telemetry.New(ctx, stack.OTLPHTTP, traffic.Service)
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		assert.NoError(t, sdk.Shutdown(sctx))
	})
	gen := stack.Traffic(sdk)
	defer gen.Close()

	// Two rounds: a refused handshake counts as a spike from two on (the
	// demo configuration's handshake_failures.min_failures).
	var results []traffic.Result
	for range 2 {
		results = append(results, gen.Round(ctx)...)
	}
	for _, r := range results {
		require.True(t, r.OK(), "%s: status %d, error %v (want %d %s)", r.Scenario.Name, r.Status, r.Err, r.Scenario.Status, r.Scenario.Outcome)
	}
	require.NoError(t, sdk.Flush(ctx))
	api := &apiClient{t: t, base: stack.UIURL, token: stack.Token}
	first := results[:len(traffic.Scenarios())]

	t.Run("timelines", func(t *testing.T) {
		for _, r := range first {
			want := expectedHops(r.Scenario)
			if len(want) == 0 {
				continue
			}
			t.Run(r.Scenario.Name, func(t *testing.T) {
				tl := api.timeline(t, r.TraceID, want)
				requestID := r.RequestID
				if requestID == "" {
					// Nginx refused the request itself: only its event
					// knows the request id.
					requestID = tl.GetHops()[0].GetRequestId()
					require.Regexp(t, `^[0-9a-f]{32}$`, requestID)
				}
				for _, h := range tl.GetHops() {
					assert.Equal(t, requestID, h.GetRequestId(), "request id of the %s hop", h.GetSource())
					assert.Equal(t, r.TraceID, h.GetTraceId(), "trace id of the %s hop", h.GetSource())
					assert.EqualValues(t, r.Status, h.GetStatus(), "status at the %s hop", h.GetSource())
				}
				// The tap continues the caller's span; the application
				// continues the tap's.
				if slices.Contains(want, event.SourceApp) {
					assertSpanChain(t, tl)
				}
			})
		}
	})

	t.Run("denied by policy", func(t *testing.T) {
		for _, r := range first {
			if r.Scenario.Status != http.StatusForbidden {
				continue
			}
			tl := api.timeline(t, r.TraceID, expectedHops(r.Scenario))
			tap := accessAt(t, tl, event.SourceTap)
			assert.Equal(t, "deny", tap.GetDecision(), r.Scenario.Name)
			assert.Equal(t, r.Scenario.Reason, tap.GetReason(), r.Scenario.Name)
			assert.NotEmpty(t, tap.GetPolicy(), r.Scenario.Name)
			assert.True(t, tap.GetTls().GetMtlsVerified(), r.Scenario.Name)
			caller := pki.NginxClient.SPIFFEID
			if r.Scenario.Via == traffic.ViaProxy {
				caller = pki.SPIFFE("batch", "reporting")
			}
			assert.Equal(t, caller, tap.GetIdentity().GetPrincipal(), r.Scenario.Name)
		}
	})

	t.Run("expired certificate", func(t *testing.T) {
		// At the edge: Nginx answers 400 and logs why.
		r := resultOf(t, first, "expired-cert-at-edge")
		tl := api.timeline(t, r.TraceID, []string{event.SourceNginx})
		ev := accessAt(t, tl, event.SourceNginx)
		assert.True(t, strings.HasPrefix(ev.GetAttributes()[event.AttrClientVerify], "FAILED:"), "client verify %q", ev.GetAttributes()[event.AttrClientVerify])
		assert.Contains(t, ev.GetAttributes()[event.AttrClientVerify], "expired")
		assert.Equal(t, event.DecisionDeny, ev.GetDecision(), "Nginx refused it itself")
		assert.Equal(t, event.TLSFailureExpired, ev.GetReason())
		assert.False(t, ev.GetTls().GetMtlsVerified())
		require.NotNil(t, ev.GetTls().GetPeer().GetNotAfter())
		assert.True(t, ev.GetTls().GetPeer().GetNotAfter().AsTime().Before(time.Now()), "the certificate's end is recorded")
		assert.Contains(t, ev.GetTls().GetPeer().GetSubject(), "CN="+pki.Inventory.CommonName)

		// At the tap: the handshake is refused and recorded with its reason,
		// as is the caller without a certificate.
		got := map[string]int64{}
		require.Eventually(t, func() bool {
			clear(got)
			for _, f := range api.posture(t).GetHandshakeFailures() {
				got[f.GetReason()] = f.GetCount()
			}
			return got[event.TLSFailureExpired] >= 2 && got[event.TLSFailureNoCertificate] >= 2
		}, 30*time.Second, 200*time.Millisecond, "handshake failures: %v", got)
		// Two rounds, one refused handshake each.
		assert.Equal(t, map[string]int64{event.TLSFailureExpired: 2, event.TLSFailureNoCertificate: 2}, got)
	})

	t.Run("compliance report", func(t *testing.T) {
		today := time.Now().UTC().Truncate(24 * time.Hour)
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer rcancel()
		rep, err := stack.RunReport(rctx, "soc2", today, today.AddDate(0, 0, 1))
		require.NoError(t, err)
		var got []string
		for _, c := range rep.Checks {
			for _, e := range c.Exceptions {
				got = append(got, c.ID+": "+serialPattern.ReplaceAllString(e.Subject, "(serial "+serialOf(t, stack.Certs, pki.Inventory.Name)+")"))
			}
		}
		sort.Strings(got)
		// Exactly what the traffic mix seeds, nothing else.
		want := []string{
			// An undeclared flow: the reporting job calls the orders service.
			"allowed_flows: " + pki.SPIFFE("batch", "reporting") + " -> orders",
			// The expired certificate presented at the edge.
			"cert_expiry: CN=" + pki.Inventory.CommonName + ",O=" + pki.Inventory.Organization + " (serial " + serialOf(t, stack.Certs, pki.Inventory.Name) + ")",
			// Refused handshakes at the tap, by reason.
			"handshake_failures: listener internal " + event.TLSFailureExpired,
			"handshake_failures: listener internal " + event.TLSFailureNoCertificate,
			// The revoked workload still calls, with a certificate the
			// policy accepts.
			"revoked_identities: identity " + pki.LegacyCart.SPIFFEID,
			// The legacy client's TLS 1.2 CBC suite at the edge.
			"tls_ciphers: nginx nginx TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
		}
		require.Equal(t, want, got)
	})

	t.Run("ui", func(t *testing.T) {
		r := resultOf(t, first, "browse-orders")
		b := newBrowser(t, stack.UIURL)
		b.login(stack.Token)
		b.open("/search?range=1h&request_id="+url.QueryEscape(r.RequestID), "#traces tbody tr")
		link := `#traces a[href="/trace/` + r.TraceID + `"]`
		b.click(link, "#waterfall")
		require.Contains(t, b.location(), "/trace/"+r.TraceID)
		hops := eval[[]string](b, `[...document.querySelectorAll('#hops .hop')].map(e => e.textContent.trim())`)
		require.Equal(t, []string{event.SourceNginx, event.SourceTap, event.SourceApp}, hops)
		rowHops := eval[[]string](b, `[...new Set([...document.querySelectorAll('#waterfall .wf-row')].map(e => e.dataset.hop).filter(Boolean))]`)
		require.Subset(t, rowHops, []string{event.SourceNginx, event.SourceTap, event.SourceApp})
		// The request id is on the page (shortened in text, whole in links).
		require.True(t, eval[bool](b, `document.querySelector('main').innerHTML.includes('`+r.RequestID+`')`), "request id %s on the trace page", r.RequestID)
	})
}

// expectedHops are the sources a scenario's request passes.
func expectedHops(s traffic.Scenario) []string {
	switch {
	case s.Outcome == traffic.HandshakeFails:
		return nil
	case s.Via == traffic.ViaNginx && s.Status == http.StatusBadRequest:
		return []string{event.SourceNginx}
	case s.Via == traffic.ViaNginx && s.Reason != "":
		return []string{event.SourceNginx, event.SourceTap}
	case s.Via == traffic.ViaNginx:
		return []string{event.SourceNginx, event.SourceTap, event.SourceApp}
	case s.Reason != "":
		return []string{event.SourceTap}
	default:
		return []string{event.SourceTap, event.SourceApp}
	}
}

func resultOf(t *testing.T, rs []traffic.Result, name string) traffic.Result {
	t.Helper()
	for _, r := range rs {
		if r.Scenario.Name == name {
			return r
		}
	}
	t.Fatalf("no scenario %s", name)
	return traffic.Result{}
}

// accessAt returns the timeline's one access event from source.
func accessAt(t *testing.T, tl *taplinev1.Timeline, source string) *taplinev1.AccessEvent {
	t.Helper()
	var found []*taplinev1.AccessEvent
	for _, e := range tl.GetEntries() {
		if a := e.GetAccess(); a != nil && a.GetSource() == source {
			found = append(found, a)
		}
	}
	require.Len(t, found, 1, "access events from %s", source)
	return found[0]
}

// assertSpanChain checks that the client span is the root, the tap's span
// its child and the application's span the tap's child.
func assertSpanChain(t *testing.T, tl *taplinev1.Timeline) {
	t.Helper()
	byHop := map[string]*taplinev1.Span{}
	var root *taplinev1.Span
	for _, e := range tl.GetEntries() {
		s := e.GetSpan()
		if s == nil {
			continue
		}
		if s.GetParentSpanId() == "" {
			root = s
		}
		if e.GetHop() != "" {
			byHop[e.GetHop()] = s
		}
	}
	require.NotNil(t, root, "the client's root span")
	assert.Equal(t, traffic.Service, root.GetServiceName())
	require.Contains(t, byHop, event.SourceTap)
	require.Contains(t, byHop, event.SourceApp)
	assert.Equal(t, root.GetSpanId(), byHop[event.SourceTap].GetParentSpanId(), "the tap continues the client's span")
	assert.Equal(t, byHop[event.SourceTap].GetSpanId(), byHop[event.SourceApp].GetParentSpanId(), "the application continues the tap's span")
}

var serialPattern = regexp.MustCompile(`\(serial [0-9A-F]+\)`)

// serialOf is a certificate's serial number as Nginx logs it and the
// events keep it: uppercase hex.
func serialOf(t *testing.T, certs pki.Dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(certs.CertFile(name))
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return fmt.Sprintf("%X", c.SerialNumber)
}

// apiClient reads the REST query API.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (a *apiClient) get(t *testing.T, path string, out proto.Message) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, protojson.Unmarshal(body, out), "%s: %s", path, body)
	}
	return resp.StatusCode
}

// timeline waits until the trace's timeline has exactly the hops want (the
// events arrive through the collector, JetStream and ingest) and returns it.
func (a *apiClient) timeline(t *testing.T, traceID string, want []string) *taplinev1.Timeline {
	t.Helper()
	var tl *taplinev1.Timeline
	var last []string
	require.Eventually(t, func() bool {
		tl = &taplinev1.Timeline{}
		if a.get(t, "/api/v1/traces/"+traceID, tl) != http.StatusOK {
			return false
		}
		last = last[:0]
		for _, h := range tl.GetHops() {
			last = append(last, h.GetSource())
		}
		return slices.Equal(last, want) && hasRootSpan(tl)
	}, 45*time.Second, 200*time.Millisecond, "trace %s: hops %v, want %v", traceID, last, want)
	return tl
}

func hasRootSpan(tl *taplinev1.Timeline) bool {
	for _, e := range tl.GetEntries() {
		if s := e.GetSpan(); s != nil && s.GetParentSpanId() == "" {
			return true
		}
	}
	return false
}

// posture is the TLS posture of the last hour.
func (a *apiClient) posture(t *testing.T) *taplinev1.TlsPosture {
	t.Helper()
	now := time.Now().UTC()
	q := url.Values{
		"startTime": {now.Add(-time.Hour).Format(time.RFC3339)},
		"endTime":   {now.Add(time.Minute).Format(time.RFC3339)},
	}
	p := &taplinev1.TlsPosture{}
	require.Equal(t, http.StatusOK, a.get(t, "/api/v1/tls/posture?"+q.Encode(), p))
	return p
}
