package proxy

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/identity/xfcc"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/tap"
)

// Headers the upstream receives from the proxy. Any header of the
// X-Tapline- family sent by a client is removed first (in every spelling,
// "X_Tapline_Principal" included), so the upstream can trust these.
const (
	HeaderPrincipal     = "X-Tapline-Principal"
	HeaderPrincipalType = "X-Tapline-Principal-Type"
	HeaderSPIFFEID      = "X-Tapline-Spiffe-Id"
	HeaderClientSubject = "X-Tapline-Client-Subject"
	HeaderClientSHA256  = "X-Tapline-Client-Sha256"
	HeaderJWTSubject    = "X-Tapline-Jwt-Subject"
	HeaderJWTIssuer     = "X-Tapline-Jwt-Issuer"
	HeaderJWTScopes     = "X-Tapline-Jwt-Scopes"
	HeaderDecision      = "X-Tapline-Decision"
	HeaderRequestID     = "X-Request-Id"
	HeaderTraceparent   = "Traceparent"
	HeaderTracestate    = "Tracestate"
)

// Reasons for requests the proxy itself refuses or cannot complete
// (tapline.reason, and the reason in the JSON body).
const (
	ReasonNoRoute             = "no-route"
	ReasonPathNotCanonical    = "path-not-canonical"
	ReasonUpstreamUnavailable = "upstream-unavailable"
	ReasonUpstreamTimeout     = "upstream-timeout"
	ReasonRequestTooLarge     = "request-too-large"
	ReasonClientClosed        = "client-closed-request"
)

// bufferedBodyBytes is the largest request body read whole before it is
// forwarded; larger ones (and those of unknown length) stream.
const bufferedBodyBytes = 64 << 10

// statusClientClosed is recorded when the client went away first (nginx's 499).
const statusClientClosed = 499

type connKey struct{}
type forwardKey struct{}

// forward is one request's state, from the handler to the reverse proxy's
// hooks.
type forward struct {
	rec            tap.AccessRecord
	trusted        bool
	res            *identity.Result
	decision       string
	upstreamStatus int
	body           []byte        // the request body, when read whole
	streamed       *countingBody // the request body, when streamed
	hdrs           headWriter    // the direct path's header writer
}

// problem is the JSON body of a response the proxy writes itself.
type problem struct {
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	Policy    string `json:"policy,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

func writeProblem(w http.ResponseWriter, status int, p problem) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// serve handles one request; ci is the connection's facts, nil when they
// are in the request's context (net/http's server puts them there).
func (p *Proxy) serve(l *listener, ci *connInfo, w http.ResponseWriter, r *http.Request) {
	p.inflight.Add(1)
	defer p.inflight.Done()
	start := p.now()
	if ci == nil {
		ci, _ = r.Context().Value(connKey{}).(*connInfo)
	}
	if ci == nil { // every connection comes through the handshake listener
		http.Error(w, "connection state missing", http.StatusInternalServerError)
		return
	}
	fw := &forward{trusted: ci.trusted}
	rec := &fw.rec
	rec.Start, rec.Conn = start, &ci.rec
	rec.Method, rec.Scheme = r.Method, "https"
	rec.Host, rec.ServerPort = splitHost(r.Host, l.port)
	rec.Path, rec.Query = r.URL.Path, r.URL.RawQuery
	rec.Protocol = protocolVersion(r)
	rec.UserAgent = r.UserAgent()

	rw := &recorder{ResponseWriter: w}
	body := &countingBody{}
	route := "-"
	defer func() {
		rec.Duration = p.now().Sub(start)
		rec.Status = rw.status
		if rec.Status == 0 && fw.upstreamStatus == http.StatusSwitchingProtocols {
			rec.Status = http.StatusSwitchingProtocols // the reverse proxy hijacks and writes it itself
		}
		rec.ResponseBytes = rw.n
		rec.RequestBytes = body.n
		if fw.upstreamStatus > 0 {
			rec.UpstreamStatus = strconv.Itoa(fw.upstreamStatus)
		}
		p.metrics.requests.WithLabelValues(l.name, route, rec.Decision).Inc()
		p.metrics.duration.WithLabelValues(l.name).Observe(rec.Duration.Seconds())
		p.tap.Access(rec)
	}()

	v := newIDs()
	if tc, ok := parseTraceparent(r.Header.Get(HeaderTraceparent)); ok {
		rec.TraceID, rec.ParentSpanID, rec.TraceFlags = tc.traceID, tc.spanID, tc.flags
		rec.TraceState = r.Header.Get(HeaderTracestate)
	} else {
		rec.TraceID, rec.TraceFlags = v.traceID, 0x01
	}
	rec.SpanID = v.spanID
	if in := r.Header.Get(HeaderRequestID); ci.trusted && validRequestID(in) {
		rec.RequestID = in
	} else {
		rec.RequestID = hex.EncodeToString(v.requestID[:])
	}

	if !canonicalPath(r.URL.Path) || r.Method == http.MethodConnect {
		rec.Decision, rec.Reason = event.DecisionDeny, ReasonPathNotCanonical
		writeProblem(rw, http.StatusBadRequest, problem{Error: "bad request", Reason: rec.Reason, RequestID: rec.RequestID})
		return
	}
	rt := matchRoute(p.routes, rec.Host, r.URL.Path)
	if rt == nil {
		rec.Decision, rec.Reason = event.DecisionDeny, ReasonNoRoute
		writeProblem(rw, http.StatusNotFound, problem{Error: "not found", Reason: rec.Reason, RequestID: rec.RequestID})
		return
	}
	route = rt.name
	rec.Route = rt.prefix

	var res identity.Result
	authz, xf := r.Header.Get("Authorization"), r.Header.Get(xfcc.HeaderName)
	if authz == "" && xf == "" {
		res = ci.peerIdentity(r.Context(), p.resolver) // the connection's own, resolved once
	} else {
		res = p.resolver.Resolve(r.Context(), identity.Request{
			Peer: ci.peer, PeerTrusted: ci.trusted, Authorization: authz, XFCC: xf,
		})
	}
	fw.res = &res
	rec.Principal, rec.PrincipalType, rec.Chain = res.Principal, res.PrincipalType, res.Chain
	if tok := res.Token; tok != nil {
		rec.JWTIssuer, rec.JWTSubject, rec.JWTAudience, rec.JWTScopes = tok.Issuer, tok.Subject, tok.Audience, tok.Scopes
	}
	rec.XFCC = xf

	d := rt.policy.Evaluate(&res)
	rec.Decision, rec.Policy, rec.Reason = d.Decision, d.Policy, d.Reason
	fw.decision = d.Decision
	if !d.Forward() {
		writeProblem(rw, http.StatusForbidden, problem{Error: "forbidden", Reason: d.Reason, Policy: d.Policy, RequestID: rec.RequestID})
		return
	}
	if r.ContentLength > l.maxBody {
		rec.Error = ReasonRequestTooLarge
		writeProblem(rw, http.StatusRequestEntityTooLarge, problem{Error: "request entity too large", Reason: ReasonRequestTooLarge, RequestID: rec.RequestID})
		return
	}
	switch {
	case r.ContentLength > 0 && r.ContentLength <= bufferedBodyBytes:
		// A small body of known length is read first, as nginx does, so
		// that the upstream gets headers and body in one write instead of
		// two (net/http flushes headers early for streamed bodies).
		buf := make([]byte, r.ContentLength)
		n, err := io.ReadFull(r.Body, buf)
		body.n = int64(n)
		if err != nil {
			rec.Error = ReasonClientClosed
			rw.status = statusClientClosed
			return
		}
		fw.body = buf
	case r.Body != nil && r.Body != http.NoBody:
		body.rc = http.MaxBytesReader(rw, r.Body, l.maxBody)
		r.Body = body
		fw.streamed = body
	}
	rec.UpstreamAddress = rt.upstream.address
	if directForward(rt.upstream, r, fw) {
		p.forward(rw, r, rt.upstream, fw)
		return
	}
	rt.upstream.rp.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), forwardKey{}, fw)))
}

// rewrite builds the upstream request: identity headers the client sent are
// removed, then the proxy's own are set with the request id and trace
// context.
func (p *Proxy) rewrite(u *upstream, pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	pr.SetURL(u.target)
	pr.Out.Host = pr.In.Host
	if fw.body != nil {
		// An in-memory body the transport writes with the headers, and can
		// replay on a fresh connection if a kept-alive one turns out closed.
		body := fw.body
		pr.Out.Body = io.NopCloser(bytes.NewReader(body))
		pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	h := pr.Out.Header
	// The proxy has answered any Expect: 100-continue itself.
	delete(h, "Expect")
	for k := range h {
		if strippedHeader(k, fw.trusted) {
			delete(h, k)
		}
	}
	forwardHeaders(pr.In, fw, func(k, v string) { h[k] = []string{v} })
}

// forwardHeaders emits the headers the proxy sets on every upstream request,
// on both forwarding paths: X-Forwarded-*, the request id, the trace context
// and the identity headers. The client's own copies were removed before.
func forwardHeaders(r *http.Request, fw *forward, set func(k, v string)) {
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header["X-Forwarded-For"]; fw.trusted && len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		set("X-Forwarded-For", ip)
	}
	set("X-Forwarded-Host", r.Host)
	set("X-Forwarded-Proto", "https") // every listener is TLS
	rec := &fw.rec
	set(HeaderRequestID, rec.RequestID)
	set(HeaderTraceparent, formatTraceparent(rec.TraceID, rec.SpanID, rec.TraceFlags))
	if rec.TraceState != "" {
		set(HeaderTracestate, rec.TraceState)
	}
	res := fw.res
	set(HeaderPrincipalType, res.PrincipalType)
	set(HeaderDecision, fw.decision)
	setSafe(set, HeaderPrincipal, res.Principal)
	setSafe(set, HeaderSPIFFEID, res.SPIFFEID)
	if c := rec.Conn.Peer; c != nil {
		setSafe(set, HeaderClientSubject, c.Subject)
		setSafe(set, HeaderClientSHA256, c.Fingerprint)
	}
	if tok := res.Token; tok != nil {
		setSafe(set, HeaderJWTSubject, tok.Subject)
		setSafe(set, HeaderJWTIssuer, tok.Issuer)
		setSafe(set, HeaderJWTScopes, strings.Join(tok.Scopes, " "))
	}
}

// setSafe emits an identity header when it has a value.
func setSafe(set func(k, v string), k, v string) {
	if v != "" {
		set(k, headerSafe(v))
	}
}

// headerSafe percent-encodes control characters, which a header value
// cannot carry; identities never hold them legitimately.
func headerSafe(s string) string {
	clean := true
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '%' {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// strippedHeader reports whether a header from the client must not reach
// the upstream: the proxy's identity family, the request id and trace
// context (set by the proxy), and XFCC unless the peer is a trusted proxy.
// Names are compared case-insensitively with '_' as '-', because some
// servers (CGI-style environments) treat X_Tapline_Principal as
// X-Tapline-Principal.
func strippedHeader(k string, trusted bool) bool {
	switch {
	case foldPrefix(k, "x-tapline-"):
		return true
	case foldEqual(k, "x-request-id"), foldEqual(k, "traceparent"), foldEqual(k, "tracestate"):
		return true
	case foldEqual(k, "x-forwarded-client-cert"):
		return !trusted
	}
	return false
}

func foldByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	if c == '_' {
		return '-'
	}
	return c
}

func foldPrefix(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		if foldByte(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func foldEqual(s, t string) bool { return len(s) == len(t) && foldPrefix(s, t) }

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// splitHost returns the request's host without port, and the port (the
// listener's when the Host header names none).
func splitHost(hostport string, defPort int) (string, int) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, _ := strconv.Atoi(p)
		return h, n
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defPort
}

// recorder notes the status and size of the response. Unwrap lets
// http.ResponseController (which the reverse proxy uses to flush and to
// hijack for WebSockets) reach the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *recorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read.
type countingBody struct {
	rc  io.ReadCloser
	n   int64
	err error // the first read error other than EOF
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
