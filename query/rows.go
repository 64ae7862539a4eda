package query

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/store"
)

var sprintf = fmt.Sprintf

// each runs a query and calls fn for every row; errors are mapped to gRPC
// statuses (what names the step in messages).
func (s *Server) each(ctx context.Context, what, sql string, params store.Params, fn func(store.Rows) error) error {
	rows, err := s.eng.Query(ctx, sql, params)
	if err != nil {
		return engineError(ctx, s.logger, what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return engineError(ctx, s.logger, what, fmt.Errorf("scan: %w", err))
		}
	}
	if err := rows.Err(); err != nil {
		return engineError(ctx, s.logger, what, err)
	}
	return nil
}

// ts converts a stored time; the zero value of DateTime columns (the epoch)
// means unknown and becomes nil.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() || t.Unix() == 0 {
		return nil
	}
	return timestamppb.New(t)
}

func dur(ns uint64) *durationpb.Duration { return durationpb.New(time.Duration(ns)) }

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// spanColumns are the otel_traces columns scanSpan reads, in order.
// scanner is a row to scan: the current row of store.Rows, or a row of a
// copy table decoded (byid.Row).
type scanner interface {
	Scan(dest ...any) error
}

const spanColumns = `Timestamp, TraceId, SpanId, ParentSpanId, TraceState, toString(SpanName), toString(SpanKind),
  toString(ServiceName), ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration,
  toString(StatusCode), StatusMessage, Events.Timestamp, arrayMap(x -> toString(x), Events.Name), Events.Attributes,
  Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes`

func scanSpan(r scanner) (*taplinev1.Span, error) {
	var (
		sp                    taplinev1.Span
		start                 time.Time
		duration              uint64
		evTimes               []time.Time
		evNames               []string
		evAttrs               []map[string]string
		lTrace, lSpan, lState []string
		lAttrs                []map[string]string
		resAttrs, spanAttrs   map[string]string
	)
	err := r.Scan(&start, &sp.TraceId, &sp.SpanId, &sp.ParentSpanId, &sp.TraceState, &sp.Name, &sp.Kind,
		&sp.ServiceName, &resAttrs, &sp.ScopeName, &sp.ScopeVersion, &spanAttrs, &duration,
		&sp.StatusCode, &sp.StatusMessage, &evTimes, &evNames, &evAttrs,
		&lTrace, &lSpan, &lState, &lAttrs)
	if err != nil {
		return nil, err
	}
	sp.StartTime = timestamppb.New(start)
	sp.Duration = dur(duration)
	sp.Attributes = nonNilMap(spanAttrs)
	sp.ResourceAttributes = nonNilMap(resAttrs)
	sp.Events = []*taplinev1.SpanEvent{}
	for i := range evTimes {
		e := &taplinev1.SpanEvent{Time: timestamppb.New(evTimes[i]), Attributes: map[string]string{}}
		if i < len(evNames) {
			e.Name = evNames[i]
		}
		if i < len(evAttrs) {
			e.Attributes = nonNilMap(evAttrs[i])
		}
		sp.Events = append(sp.Events, e)
	}
	sp.Links = []*taplinev1.SpanLink{}
	for i := range lTrace {
		l := &taplinev1.SpanLink{TraceId: lTrace[i], Attributes: map[string]string{}}
		if i < len(lSpan) {
			l.SpanId = lSpan[i]
		}
		if i < len(lState) {
			l.TraceState = lState[i]
		}
		if i < len(lAttrs) {
			l.Attributes = nonNilMap(lAttrs[i])
		}
		sp.Links = append(sp.Links, l)
	}
	return &sp, nil
}

// eventColumns are the access_events columns scanEvent reads, in order.
const eventColumns = `Timestamp, Duration, toString(Source), toString(ServiceName), toString(Node), RequestId, TraceId, SpanId,
  toString(Method), toString(Scheme), toString(Host), Path, Query, toString(Route), toString(Protocol), Status,
  RequestBytes, ResponseBytes, ClientAddress, ClientPort, UpstreamAddress, UpstreamStatus, UserAgent,
  toString(TlsVersion), toString(TlsCipher), TlsResumed, toString(TlsServerName), MtlsVerified,
  PeerSpiffeId, PeerSubject, PeerIssuer, PeerSerial, PeerNotAfter, PeerFingerprint,
  Principal, toString(PrincipalType), JwtIssuer, JwtSubject, JwtAudience, JwtScopes,
  toString(Decision), toString(Policy), toString(Reason), ConnectionId, Attributes`

func scanEvent(r scanner, extra ...any) (*taplinev1.AccessEvent, error) {
	var (
		e                     taplinev1.AccessEvent
		tlsInfo               taplinev1.AccessTls
		peer                  taplinev1.Certificate
		id                    taplinev1.Identity
		at, notAfter          time.Time
		duration, reqB, respB uint64
		status, clientPort    uint16
		attrs                 map[string]string
	)
	dest := []any{&at, &duration, &e.Source, &e.ServiceName, &e.Node, &e.RequestId, &e.TraceId, &e.SpanId,
		&e.Method, &e.Scheme, &e.Host, &e.Path, &e.Query, &e.Route, &e.Protocol, &status,
		&reqB, &respB, &e.ClientAddress, &clientPort, &e.UpstreamAddress, &e.UpstreamStatus, &e.UserAgent,
		&tlsInfo.Version, &tlsInfo.Cipher, &tlsInfo.Resumed, &tlsInfo.ServerName, &tlsInfo.MtlsVerified,
		&peer.SpiffeId, &peer.Subject, &peer.Issuer, &peer.Serial, &notAfter, &peer.Fingerprint,
		&id.Principal, &id.PrincipalType, &id.JwtIssuer, &id.JwtSubject, &id.JwtAudience, &id.JwtScopes,
		&e.Decision, &e.Policy, &e.Reason, &e.ConnectionId, &attrs}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	e.Time = timestamppb.New(at)
	e.Duration = dur(duration)
	e.Status, e.ClientPort = int32(status), int32(clientPort)
	e.RequestBytes, e.ResponseBytes = int64(reqB), int64(respB)
	peer.NotAfter = ts(notAfter)
	tlsInfo.Peer = &peer
	e.Tls = &tlsInfo
	if id.JwtScopes == nil {
		id.JwtScopes = []string{}
	}
	e.Identity = &id
	e.Attributes = nonNilMap(attrs)
	return &e, nil
}

// tlsColumns are the tls_connections columns scanTLS reads, in order.
const tlsColumns = `Timestamp, toString(Source), toString(ServiceName), toString(Node), toString(Listener), ConnectionId,
  ClientAddress, ClientPort, toString(ServerName), Established, toString(Failure), FailureDetail, HandshakeDuration,
  toString(TlsVersion), toString(TlsCipher), TlsResumed, toString(Alpn), MtlsVerified,
  PeerSpiffeId, PeerSubject, PeerIssuer, PeerSerial, PeerNotBefore, PeerNotAfter, PeerFingerprint, Attributes`

func scanTLS(r scanner) (*taplinev1.TlsConnection, error) {
	var (
		c                       taplinev1.TlsConnection
		peer                    taplinev1.Certificate
		at, notBefore, notAfter time.Time
		port                    uint16
		hs                      uint64
		attrs                   map[string]string
	)
	err := r.Scan(&at, &c.Source, &c.ServiceName, &c.Node, &c.Listener, &c.ConnectionId,
		&c.ClientAddress, &port, &c.ServerName, &c.Established, &c.Failure, &c.FailureDetail, &hs,
		&c.Version, &c.Cipher, &c.Resumed, &c.Alpn, &c.MtlsVerified,
		&peer.SpiffeId, &peer.Subject, &peer.Issuer, &peer.Serial, &notBefore, &notAfter, &peer.Fingerprint, &attrs)
	if err != nil {
		return nil, err
	}
	c.Time = timestamppb.New(at)
	c.ClientPort = int32(port)
	c.HandshakeDuration = dur(hs)
	peer.NotBefore, peer.NotAfter = ts(notBefore), ts(notAfter)
	c.Peer = &peer
	c.Attributes = nonNilMap(attrs)
	return &c, nil
}
