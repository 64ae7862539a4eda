package proxy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/store"
)

// TestIntoClickHouse follows the tap's events all the way: proxy → JetStream
// → ingest → access_events, tls_connections and otel_traces in the embedded
// ClickHouse, and joins an access row to its TLS connection.
func TestIntoClickHouse(t *testing.T) {
	eng := ingesttest.Engine(t) // skips without libchdb.so unless CI is set
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	in, err := ingest.New(ingest.Default(), eng, f.bus.JetStream(), prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	require.NoError(t, in.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, in.Shutdown(ctx))
	})

	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "orders", SPIFFEID: workloadID})
	c := f.client(cert, nil)
	defer c.CloseIdleConnections()
	resp, err := c.Get(f.url("/admin/report?q=1"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	requestID := resp.Header.Get("X-Upstream-Request-Id")
	require.Regexp(t, hex32, requestID)
	stranger := proxytest.NewCA(t, "Stranger").Issue(t, proxytest.Leaf{CommonName: "intruder"})
	_, err = f.handshake(t, f.tlsConfig(stranger), nil)
	require.Error(t, err)

	ctx := context.Background()
	var (
		source, principal, ptype, spiffe, fingerprint, decision, policyName, reason, connID, traceID, spanID, tlsVersion string
		status                                                                                                           uint16
		mtls                                                                                                             bool
		notAfter                                                                                                         time.Time
	)
	require.Eventually(t, func() bool {
		rows, err := eng.Query(ctx, `SELECT Source, Principal, PrincipalType, PeerSpiffeId, PeerFingerprint, Decision, Policy, Reason,
			ConnectionId, TraceId, SpanId, TlsVersion, Status, MtlsVerified, PeerNotAfter
			FROM access_events WHERE RequestId = {id:String}`, store.Params{"id": requestID})
		require.NoError(t, err)
		defer rows.Close()
		if !rows.Next() {
			return false
		}
		require.NoError(t, rows.Scan(&source, &principal, &ptype, &spiffe, &fingerprint, &decision, &policyName, &reason,
			&connID, &traceID, &spanID, &tlsVersion, &status, &mtls, &notAfter))
		return true
	}, 60*time.Second, 100*time.Millisecond, "the access event reaches access_events")
	require.Equal(t, event.SourceTap, source)
	require.Equal(t, workloadID, principal)
	require.Equal(t, event.PrincipalSPIFFE, ptype)
	require.Equal(t, workloadID, spiffe)
	require.Equal(t, identity.CertFromX509(cert.Cert).Fingerprint, fingerprint)
	require.Equal(t, event.DecisionAllow, decision)
	require.Equal(t, "admin", policyName)
	require.Equal(t, "spiffe-id-allowed", reason)
	require.Equal(t, "1.3", tlsVersion)
	require.Equal(t, uint16(200), status)
	require.True(t, mtls)
	require.Equal(t, cert.Cert.NotAfter.UTC().Truncate(time.Second), notAfter)

	// The access row joins its TLS connection; the refused handshake has its own row.
	var established bool
	var listener string
	require.Eventually(t, func() bool {
		// Ingest writes one table after the other: the row may lag a moment.
		rows, err := eng.Query(ctx, `SELECT Established, Listener FROM tls_connections WHERE ConnectionId = {c:String}`, store.Params{"c": connID})
		require.NoError(t, err)
		defer rows.Close()
		if !rows.Next() {
			return false
		}
		require.NoError(t, rows.Scan(&established, &listener))
		return true
	}, 60*time.Second, 100*time.Millisecond, "no tls_connections row for the access row's connection")
	require.True(t, established)
	require.Equal(t, "main", listener)
	var failure, detail, subject string
	require.Eventually(t, func() bool {
		rows, err := eng.Query(ctx, `SELECT Failure, FailureDetail, PeerSubject FROM tls_connections WHERE NOT Established`, nil)
		require.NoError(t, err)
		defer rows.Close()
		if !rows.Next() {
			return false
		}
		require.NoError(t, rows.Scan(&failure, &detail, &subject))
		return true
	}, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, event.TLSFailureUnknownCA, failure)
	require.Contains(t, detail, "unknown authority")
	require.Equal(t, "CN=intruder,O=Tapline Test", subject)

	// And the server span is in otel_traces under the same ids.
	require.Eventually(t, func() bool {
		rows, err := eng.Query(ctx, `SELECT count() FROM otel_traces WHERE TraceId = {t:String} AND SpanId = {s:String} AND SpanKind = 'Server'`,
			store.Params{"t": traceID, "s": spanID})
		require.NoError(t, err)
		defer rows.Close()
		var n uint64
		require.True(t, rows.Next())
		require.NoError(t, rows.Scan(&n))
		return n == 1
	}, 60*time.Second, 100*time.Millisecond)
}
