package compliancetest

import (
	"context"
	"fmt"
	"time"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

// InsertVolume writes n access events and n spans spread evenly over days
// days from start, plus one TLS connection per ten requests, one log per
// ten, and an hourly ledger batch: the shape of the clean day at volume,
// for benchmarks. Rows are generated and inserted in chunks, so memory
// stays flat.
func InsertVolume(ctx context.Context, eng store.Engine, start time.Time, days, n int) error {
	const chunk = 100000
	for first := 0; first < n; first += chunk {
		if err := Insert(ctx, eng, VolumeRows(start, days, n, first, min(n, first+chunk))); err != nil {
			return err
		}
	}
	return insertVolumeLedger(ctx, eng, start, days, n)
}

// VolumeRows returns rows [first, last) of the n that InsertVolume spreads
// over days days from start (access events, spans, and the TLS
// connections and logs that go with them).
func VolumeRows(start time.Time, days, n, first, last int) Dataset {
	step := time.Duration(int64(days) * int64(24*time.Hour) / int64(max(n, 1)))
	sources := []string{event.SourceNginx, event.SourceTap, event.SourceMesh, event.SourceApp}
	notAfter := start.AddDate(1, 0, 0)
	var d Dataset
	for i := first; i < last; i++ {
		t := start.Add(time.Duration(i) * step)
		req := i / 2
		rid, tid := fmt.Sprintf("r%015x", req), fmt.Sprintf("%032x", req)
		src := sources[i%len(sources)]
		a := Access{Time: t, Source: src, Service: "orders", Node: "node-1", RequestID: rid, TraceID: tid,
			Method: "GET", Scheme: "https", Host: "orders.internal", Path: fmt.Sprintf("/api/orders/%d", i%5000),
			Route: "/api/orders/{id}", Status: 200, Client: "10.0.0.2", TLSVersion: "1.3", Cipher: TLS13Cipher}
		switch src {
		case event.SourceTap:
			a.MTLS, a.SpiffeID, a.Subject, a.Serial, a.NotAfter, a.Fingerprint = true, EdgeSPIFFE, "CN=nginx", "0A1B", notAfter, "AA11"
			a.Principal, a.PrincipalType, a.JWTIssuer, a.JWTSubject, a.JWTAudience = "user:alice", event.PrincipalJWT, Issuer, "alice", Audience
			a.Decision = event.DecisionAllow
			if i%1000 == 1 {
				a.Path, a.Route, a.Method = "/admin/reindex", "/admin/reindex", "POST"
				a.SpiffeID, a.Principal, a.PrincipalType = AdminSPIFFE, AdminSPIFFE, event.PrincipalSPIFFE
				a.JWTIssuer, a.JWTSubject, a.JWTAudience = "", "", ""
			}
		case event.SourceMesh:
			a.Service, a.Path, a.Route = "payments", "/charge", "/charge"
			a.MTLS, a.SpiffeID, a.Principal, a.PrincipalType = true, OrdersSPIFFE, OrdersSPIFFE, event.PrincipalSPIFFE
			a.Decision = event.DecisionAllow
		case event.SourceNginx:
			a.Client = EdgeClient
		}
		d.Access = append(d.Access, a)
		sp := Span{Time: t, TraceID: tid, SpanID: fmt.Sprintf("%016x", i), Service: "orders", Name: "GET /api/orders/{id}", Duration: time.Millisecond}
		if i%2 == 1 {
			sp.Parent, sp.Service, sp.Name, sp.Time = fmt.Sprintf("%016x", i-1), "payments", "POST /charge", t.Add(time.Millisecond)
		}
		d.Spans = append(d.Spans, sp)
		if i%10 == 0 {
			d.TLS = append(d.TLS, TLSConn{Time: t, Listener: Listener, Node: "node-1", ConnID: rid, Client: "10.0.0.2",
				Established: true, Version: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: EdgeSPIFFE,
				Subject: "CN=nginx", Serial: "0A1B", NotAfter: notAfter, Fingerprint: "AA11"})
			d.Logs = append(d.Logs, Log{Time: t, Service: "orders", Body: "order listed"})
		}
	}
	return d
}

func insertVolumeLedger(ctx context.Context, eng store.Engine, start time.Time, days, n int) error {
	var ledger []LedgerBatch
	for h := range days * 24 {
		at := start.Add(time.Duration(h) * time.Hour)
		seqs := make([]uint64, 10)
		for k := range seqs {
			seqs[k] = uint64(h*10 + k + 1)
		}
		ledger = append(ledger, LedgerBatch{InsertedAt: at.Add(time.Minute), Stream: Stream, Chain: LedgerChain,
			BatchSeq: uint64(h + 1), Sequences: seqs, RowsByTable: map[string]uint64{"access_events": uint64(n / (days * 24))},
			MinEventTime: at, MaxEventTime: at.Add(time.Hour - time.Second)})
	}
	return WriteLedger(ctx, eng, ledger)
}
