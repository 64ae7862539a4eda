package tap

import (
	"testing"
	"time"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
)

// BenchmarkEncode measures turning one access record (log record and span)
// into OTLP protobuf, the tap's per-request work off the request path, with
// the direct encoder and, as the baseline, with pdata.
func BenchmarkEncode(b *testing.B) {
	rec := benchRecord()
	b.Run("wire", func(b *testing.B) {
		benchEncode(b, func() encoder { return newBatch(Resource{ServiceName: "tapline-proxy", Node: "n"}) }, rec)
	})
	b.Run("pdata", func(b *testing.B) {
		benchEncode(b, func() encoder { return newPdataBatch(Resource{ServiceName: "tapline-proxy", Node: "n"}) }, rec)
	})
}

type encoder interface {
	addAccess(*AccessRecord, time.Time)
	marshal() ([]byte, []byte, error)
}

// benchEncode encodes batches of 512 records. The tap reuses its batch from
// flush to flush; pdata builds new ones.
func benchEncode(b *testing.B, newEnc func() encoder, rec *AccessRecord) {
	const batchSize = 512
	b.ReportAllocs()
	reused := newEnc()
	for i := 0; i < b.N; i += batchSize {
		enc := reused
		if w, ok := enc.(*batch); ok {
			w.reset()
		} else {
			enc = newEnc()
		}
		now := time.Now()
		for range min(batchSize, b.N-i) {
			enc.addAccess(rec, now)
		}
		if _, _, err := enc.marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRecord() *AccessRecord {
	peer := &identity.Cert{SPIFFEID: "spiffe://example.org/ns/prod/sa/orders", Subject: "CN=orders,O=Example", Issuer: "CN=CA",
		Serial: "0A1B2C3D", Fingerprint: "AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12",
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	conn := &Conn{ID: "0123456789abcdef0123456789abcdef", Listener: "main", ClientAddress: "10.0.0.1", ClientPort: 40000,
		ServerName: "api.example.com", TLSVersion: "1.3", Cipher: "TLS_AES_128_GCM_SHA256", MTLSVerified: true, Peer: peer}
	rec := &AccessRecord{Start: time.Now(), Duration: time.Millisecond, TraceID: [16]byte{1}, SpanID: [8]byte{2}, TraceFlags: 1,
		RequestID: "0123456789abcdef0123456789abcdef", Method: "POST", Scheme: "https", Host: "api.example.com", ServerPort: 8443,
		Path: "/orders/123", Route: "/orders", Protocol: "1.1", UserAgent: "Go-http-client/1.1", Status: 200,
		RequestBytes: 1024, ResponseBytes: 1024, UpstreamAddress: "127.0.0.1:8000", UpstreamStatus: "200", Conn: conn,
		Principal: peer.SPIFFEID, PrincipalType: event.PrincipalSPIFFE, Decision: event.DecisionAllow, Policy: "orders", Reason: "spiffe-id-allowed",
		Chain: []identity.Entry{{Source: identity.SourcePeer, Type: event.PrincipalSPIFFE, ID: peer.SPIFFEID, Verified: true, Principal: true,
			SPIFFEID: peer.SPIFFEID, Subject: peer.Subject, Issuer: peer.Issuer, Serial: peer.Serial, Fingerprint: peer.Fingerprint, NotAfter: &peer.NotAfter}}}
	return rec
}
