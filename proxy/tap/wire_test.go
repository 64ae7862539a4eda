package tap

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
)

// TestWireMatchesPdata: the direct encoding decodes (with the Collector's
// own plogotlp/ptraceotlp) into exactly the records pdata builds.
func TestWireMatchesPdata(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	peer := &identity.Cert{SPIFFEID: "spiffe://example.org/ns/a/sa/b", Subject: "CN=b, O=\"x,y\"", Issuer: "CN=ca", Serial: "0A",
		Fingerprint: "AB", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	full := &Conn{ID: "c1", Listener: "main", ClientAddress: "127.0.0.1", ClientPort: 65535, ServerName: "ü.example",
		TLSVersion: "1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "h2", Resumed: true, MTLSVerified: true, Peer: peer}
	bare := &Conn{ID: "c2", Listener: "main", ClientAddress: "::1"}
	// full and bare carry several records each: all but the first take the
	// connection's attributes from the per-connection encoding.
	long := string(make([]byte, 300)) // multi-byte lengths
	access := []*AccessRecord{
		{Start: now, Duration: 1500 * time.Microsecond, TraceID: [16]byte{1, 2}, SpanID: [8]byte{3}, ParentSpanID: [8]byte{4}, TraceFlags: 1,
			TraceState: "a=b", RequestID: "r1", Method: "POST", Scheme: "https", Host: "h", ServerPort: 8443, Path: "/p", Query: "q=1",
			Route: "/p", Protocol: "2", UserAgent: long, Status: 201, RequestBytes: 1 << 40, ResponseBytes: 0, UpstreamAddress: "u:1",
			UpstreamStatus: "201", Conn: full, Principal: "alice", PrincipalType: event.PrincipalJWT, JWTIssuer: "iss", JWTSubject: "alice",
			JWTAudience: []string{"a", "b"}, JWTScopes: []string{"s1", long}, XFCC: "By=x",
			Chain:    []identity.Entry{{Source: identity.SourceJWT, ID: "alice", Verified: true, Principal: true}},
			Decision: event.DecisionAllow, Policy: "p", Reason: "jwt-allowed"},
		{Start: now, TraceID: [16]byte{9}, SpanID: [8]byte{9}, Method: "GET", Path: "/", Status: 0, Error: "client-closed-request", Conn: bare,
			PrincipalType: event.PrincipalAnonymous, Decision: event.DecisionDeny, Reason: "no-route"},
		{Start: now, Duration: time.Second, TraceID: [16]byte{7}, SpanID: [8]byte{7}, Method: "GET", Path: "/x", Status: 503, Error: "upstream-unavailable", Conn: full},
	}
	// Requests of one connection sharing its identity chain (the encoding is
	// kept per connection), interleaved with one that has a chain of its own.
	shared := []identity.Entry{{Source: identity.SourcePeer, Type: "spiffe", ID: peer.SPIFFEID, Verified: true, Principal: true,
		SPIFFEID: peer.SPIFFEID, Subject: peer.Subject}}
	own := []identity.Entry{shared[0], {Source: identity.SourceXFCC, Reason: "xfcc-untrusted-peer"}}
	for i, chain := range [][]identity.Entry{shared, shared, own, own[:1], shared} {
		access = append(access, &AccessRecord{Start: now, TraceID: [16]byte{byte(20 + i)}, SpanID: [8]byte{1}, Method: "GET", Path: "/c",
			Status: 200, Conn: full, Principal: peer.SPIFFEID, PrincipalType: event.PrincipalSPIFFE, Chain: chain})
	}
	tlsRecs := []*TLSRecord{
		{Time: now, HandshakeDuration: time.Millisecond, Conn: full, Established: true},
		{Time: now, Conn: bare, Failure: event.TLSFailureUnknownCA, FailureDetail: "x509: unknown authority", Presented: peer},
		{Time: now, Failure: event.TLSFailureNotTLS},
	}
	res := Resource{ServiceName: "svc", Node: "n1"}
	w, p := newBatch(res), newPdataBatch(res)
	for _, r := range access {
		w.addAccess(r, now)
		p.addAccess(r, now)
	}
	for _, r := range tlsRecs {
		w.addTLS(r, now)
		p.addTLS(r, now)
	}
	w.addDrop("buffer-full", 42, now)
	p.addDrop("buffer-full", 42, now)

	wl, wt, err := w.marshal()
	require.NoError(t, err)
	pl, pt, err := p.marshal()
	require.NoError(t, err)

	lreq := plogotlp.NewExportRequest()
	require.NoError(t, lreq.UnmarshalProto(wl))
	wantJSON, _ := (func() ([]byte, error) {
		r := plogotlp.NewExportRequest()
		_ = r.UnmarshalProto(pl)
		return r.MarshalJSON()
	})()
	gotJSON, err := lreq.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
	again, err := lreq.MarshalProto()
	require.NoError(t, err)
	require.Equal(t, pl, again, "logs differ")

	treq := ptraceotlp.NewExportRequest()
	require.NoError(t, treq.UnmarshalProto(wt))
	again, err = treq.MarshalProto()
	require.NoError(t, err)
	require.Equal(t, pt, again, "spans differ")

	empty := newBatch(res)
	l, tr, err := empty.marshal()
	require.NoError(t, err)
	require.Nil(t, l)
	require.Nil(t, tr)
}
