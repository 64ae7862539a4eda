package compliancetest

import (
	"context"
	"fmt"
	"time"

	"github.com/tapline/tapline/store"
)

// Access is one access_events row (the columns the checks read).
type Access struct {
	Time                                      time.Time
	Source, Service, Node, RequestID, TraceID string
	Method, Scheme, Host, Path, Route         string
	Status                                    uint16
	Client                                    string
	TLSVersion, Cipher                        string
	MTLS                                      bool
	SpiffeID, Subject, Issuer, Serial         string
	NotAfter                                  time.Time
	Fingerprint, Principal, PrincipalType     string
	JWTIssuer, JWTSubject, JWTAudience        string
	Decision, Policy, Reason, ConnID          string
	Ingested                                  time.Time // zero: Time + 1s
}

// TLSConn is one tls_connections row.
type TLSConn struct {
	Time                                time.Time
	Listener, Node, ConnID, Client, SNI string
	Established                         bool
	Failure, FailureDetail              string
	Version, Cipher                     string
	MTLS                                bool
	SpiffeID, Subject, Issuer, Serial   string
	NotBefore, NotAfter                 time.Time
	Fingerprint                         string
	Ingested                            time.Time
}

// Span is one otel_traces row.
type Span struct {
	Time                             time.Time
	TraceID, SpanID, Parent, Service string
	Name                             string
	Duration                         time.Duration
}

// Log is one otel_logs row.
type Log struct {
	Time    time.Time
	Service string
	Body    string
}

// Dataset is rows for every table the checks read.
type Dataset struct {
	Access []Access
	TLS    []TLSConn
	Spans  []Span
	Logs   []Log
	Ledger []LedgerBatch
}

var accessColumns = []string{
	"Timestamp", "Duration", "Source", "ServiceName", "Node", "RequestId", "TraceId", "Method", "Scheme", "Host",
	"Path", "Route", "Status", "ClientAddress", "TlsVersion", "TlsCipher", "MtlsVerified", "PeerSpiffeId",
	"PeerSubject", "PeerIssuer", "PeerSerial", "PeerNotAfter", "PeerFingerprint", "Principal", "PrincipalType",
	"JwtIssuer", "JwtSubject", "JwtAudience", "Decision", "Policy", "Reason", "ConnectionId", "IngestTimestamp",
}

var tlsColumns = []string{
	"Timestamp", "Source", "ServiceName", "Node", "Listener", "ConnectionId", "ClientAddress", "ServerName",
	"Established", "Failure", "FailureDetail", "TlsVersion", "TlsCipher", "MtlsVerified", "PeerSpiffeId",
	"PeerSubject", "PeerIssuer", "PeerSerial", "PeerNotBefore", "PeerNotAfter", "PeerFingerprint", "IngestTimestamp",
}

var spanColumns = []string{"Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName", "Duration", "StatusCode"}

var logColumns = []string{"Timestamp", "ServiceName", "SeverityText", "SeverityNumber", "Body"}

func ingested(t, at time.Time) time.Time {
	if at.IsZero() {
		return t.Add(time.Second)
	}
	return at
}

func dt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC().Truncate(time.Second)
}

// Insert writes d into the tables in batches of up to 50,000 rows.
func Insert(ctx context.Context, eng store.Engine, d Dataset) error {
	err := insertRows(ctx, eng, "access_events", accessColumns, len(d.Access), func(i int) []any {
		a := d.Access[i]
		return []any{a.Time.UTC(), uint64(2 * time.Millisecond), a.Source, a.Service, a.Node, a.RequestID, a.TraceID,
			a.Method, a.Scheme, a.Host, a.Path, a.Route, a.Status, a.Client, a.TLSVersion, a.Cipher, a.MTLS,
			a.SpiffeID, a.Subject, a.Issuer, a.Serial, dt(a.NotAfter), a.Fingerprint, a.Principal, a.PrincipalType,
			a.JWTIssuer, a.JWTSubject, a.JWTAudience, a.Decision, a.Policy, a.Reason, a.ConnID,
			ingested(a.Time, a.Ingested).UTC().Truncate(time.Millisecond)}
	})
	if err != nil {
		return err
	}
	err = insertRows(ctx, eng, "tls_connections", tlsColumns, len(d.TLS), func(i int) []any {
		c := d.TLS[i]
		return []any{c.Time.UTC(), "tap", "tapline-proxy", c.Node, c.Listener, c.ConnID, c.Client, c.SNI,
			c.Established, c.Failure, c.FailureDetail, c.Version, c.Cipher, c.MTLS, c.SpiffeID, c.Subject, c.Issuer,
			c.Serial, dt(c.NotBefore), dt(c.NotAfter), c.Fingerprint, ingested(c.Time, c.Ingested).UTC().Truncate(time.Millisecond)}
	})
	if err != nil {
		return err
	}
	err = insertRows(ctx, eng, "otel_traces", spanColumns, len(d.Spans), func(i int) []any {
		s := d.Spans[i]
		return []any{s.Time.UTC(), s.TraceID, s.SpanID, s.Parent, s.Name, "Server", s.Service, uint64(s.Duration), "Unset"}
	})
	if err != nil {
		return err
	}
	err = insertRows(ctx, eng, "otel_logs", logColumns, len(d.Logs), func(i int) []any {
		l := d.Logs[i]
		return []any{l.Time.UTC(), l.Service, "INFO", uint8(9), l.Body}
	})
	if err != nil {
		return err
	}
	return WriteLedger(ctx, eng, d.Ledger)
}

const batchRows = 50000

func insertRows(ctx context.Context, eng store.Engine, table string, cols []string, n int, row func(int) []any) error {
	for start := 0; start < n; start += batchRows {
		b, err := eng.PrepareBatch(ctx, table, cols)
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		for i := start; i < min(n, start+batchRows); i++ {
			if err := b.Append(row(i)...); err != nil {
				b.Abort()
				return fmt.Errorf("%s row %d: %w", table, i, err)
			}
		}
		if err := b.Send(ctx); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
	}
	return nil
}
