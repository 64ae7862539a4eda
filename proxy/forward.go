package proxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The direct path: most requests through the tap (an HTTP/1.1 upstream, no
// body or a body already read whole, no protocol upgrade) are forwarded here
// instead of through httputil.ReverseProxy. The request head is written
// straight onto the upstream connection from the client's request — no
// request clone, no header map copy, no sorting — and the answer is copied
// back the way ReverseProxy copies it. Upgrades, streamed bodies and h2c
// upstreams keep using ReverseProxy. Both paths send the same headers
// (forwardHeaders is shared), which TestForwardPathsAgree checks.

// directForward reports whether a request can take the direct path.
func directForward(u *upstream, r *http.Request, fw *forward) bool {
	return u.h1 != nil && fw.streamed == nil && !wantsUpgrade(r.Header)
}

// wantsUpgrade reports whether a request asks for a protocol switch
// (WebSocket): a Connection header naming "upgrade" and an Upgrade header.
func wantsUpgrade(h http.Header) bool {
	if len(h["Upgrade"]) == 0 {
		return false
	}
	for _, v := range h["Connection"] {
		if headerHasToken(v, "upgrade") {
			return true
		}
	}
	return false
}

// headerHasToken reports whether a comma-separated header value holds
// token (ASCII case-insensitive).
func headerHasToken(v, token string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(part), token) {
			return true
		}
	}
	return false
}

// hopHeaders are removed between client and upstream, both ways, with any
// header the Connection header names (RFC 9110, section 7.6.1).
var hopHeaders = map[string]bool{
	"Connection":          true,
	"Proxy-Connection":    true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

// connectionListed reports whether the Connection header values name k.
func connectionListed(conn []string, k string) bool {
	for _, v := range conn {
		if headerHasToken(v, k) {
			return true
		}
	}
	return false
}

// forwardedByProxy are the client's headers the proxy replaces with its own
// (the X-Forwarded family is set from the connection; Expect was answered
// by the server; the framing headers are the proxy's).
var forwardedByProxy = map[string]bool{
	"Forwarded":         true,
	"X-Forwarded-For":   true,
	"X-Forwarded-Host":  true,
	"X-Forwarded-Proto": true,
	"Expect":            true,
	"Content-Length":    true,
	"Host":              true,
}

// forward sends the request to an HTTP/1.1 upstream on the direct path and
// copies the answer to the client.
func (p *Proxy) forward(w *recorder, r *http.Request, u *upstream, fw *forward) {
	uri := upstreamURI(u.target, r.URL)
	sent := time.Now()
	resp, err := u.h1.Forward(r, func(bw *bufio.Writer) error {
		writeRequestHead(bw, r, uri, fw)
		if len(fw.body) > 0 {
			_, _ = bw.Write(fw.body)
		}
		return nil // bufio keeps the first write error for Flush
	})
	if err != nil {
		p.upstreamFailed(w, r, fw, err)
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Nobody asked to switch (ReverseProxy refuses this too).
		resp.Body.Close()
		p.upstreamFailed(w, r, fw, errUnrequestedUpgrade)
		return
	}
	fw.upstreamStatus = resp.StatusCode
	if g, ok := w.ResponseWriter.(interface{ clientGone() bool }); ok && time.Since(sent) >= clientCheckAfter && g.clientGone() {
		// Nobody is listening any more; record 499 as nginx does.
		resp.Body.Close()
		fw.rec.Error, w.status = ReasonClientClosed, statusClientClosed
		return
	}
	dst := w.Header()
	conn := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if hopHeaders[k] || (len(conn) > 0 && connectionListed(conn, k)) {
			continue
		}
		dst[k] = append(dst[k], vv...)
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(resp.StatusCode)
	if err := copyAnswer(w, resp); err != nil {
		resp.Body.Close()
		// As ReverseProxy does: cut the client's connection, so a truncated
		// answer cannot pass for a whole one. The server recovers this.
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close()
	if len(resp.Trailer) > 0 {
		w.Flush()
	}
	for k, vv := range resp.Trailer {
		if len(resp.Trailer) != announced {
			k = http.TrailerPrefix + k
		}
		dst[k] = append(dst[k], vv...)
	}
}

// clientCheckAfter: when the upstream took at least this long, the proxy's
// own HTTP/1.1 loop checks that the client is still there before answering.
// A quicker answer is not worth the check's system call: under load most
// exchanges take a millisecond or more (queueing included), and with a 1 ms
// threshold the check cost about 4 % of the proxy's CPU time per request
// (docs/BENCHMARKS.md, "Proxy tap"), while a client rarely gives up on a
// request within 10 ms.
const clientCheckAfter = 10 * time.Millisecond

var errUnrequestedUpgrade = errors.New("upstream switched protocols unasked")

// copyAnswer copies the answer's body to the client, flushing after every
// write when the answer streams (no length, or server-sent events).
func copyAnswer(w *recorder, resp *http.Response) error {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	stream := resp.ContentLength == -1 || isEventStream(resp.Header.Get("Content-Type"))
	for {
		n, rerr := resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				return werr
			}
			if stream {
				w.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// upstreamURI is the request target sent upstream: the upstream URL's path
// joined with the request's, and both queries (as ReverseProxy's SetURL
// joins them), with unparsable query strings re-encoded as ReverseProxy
// does.
func upstreamURI(target, in *url.URL) string {
	path, raw := in.Path, in.RawPath
	if target.Path != "" || target.RawPath != "" {
		path, raw = joinPaths(target, in)
	}
	q := in.RawQuery
	if target.RawQuery != "" {
		if q == "" {
			q = target.RawQuery
		} else {
			q = target.RawQuery + "&" + q
		}
	}
	out := url.URL{Path: path, RawPath: raw, RawQuery: cleanQuery(q)}
	return out.RequestURI()
}

// joinPaths joins the upstream's base path and the request's path with
// exactly one slash between them, keeping escaped forms.
func joinPaths(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return joinSlash(a.Path, b.Path), ""
	}
	ap, bp := a.EscapedPath(), b.EscapedPath()
	as, bs := strings.HasSuffix(ap, "/"), strings.HasPrefix(bp, "/")
	switch {
	case as && bs:
		return a.Path + b.Path[1:], ap + bp[1:]
	case !as && !bs:
		return a.Path + "/" + b.Path, ap + "/" + bp
	}
	return a.Path + b.Path, ap + bp
}

func joinSlash(a, b string) string {
	as, bs := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case as && bs:
		return a + b[1:]
	case !as && !bs:
		return a + "/" + b
	}
	return a + b
}

// maxQueryParams is net/url's default limit on query parameters.
const maxQueryParams = 10000

// cleanQuery re-encodes a query that net/url would not parse as is (a ';'
// separator, a bad escape, too many parameters), so that the proxy and the
// upstream read the same parameters.
func cleanQuery(s string) string {
	reencode := func() string { v, _ := url.ParseQuery(s); return v.Encode() }
	if strings.Count(s, "&")+1 > maxQueryParams {
		return reencode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode()
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return reencode()
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// writeRequestHead writes the upstream request line and headers: the
// client's end-to-end headers, then the proxy's (forwardHeaders), then the
// body's length.
func writeRequestHead(bw *bufio.Writer, r *http.Request, uri string, fw *forward) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(headerValue(r.Host))
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if hopHeaders[k] || forwardedByProxy[k] || strippedHeader(k, fw.trusted) || (len(conn) > 0 && connectionListed(conn, k)) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	if headerValuesHaveToken(r.Header["Te"], "trailers") {
		writeHeaderLine(bw, "Te", "trailers")
	}
	p := &fw.hdrs
	p.bw = bw
	forwardHeaders(r, fw, p.set)
	switch {
	case len(fw.body) > 0:
		bw.WriteString("Content-Length: ")
		var nb [20]byte
		bw.Write(strconv.AppendInt(nb[:0], int64(len(fw.body)), 10))
		bw.WriteString("\r\n")
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
}

// headWriter writes header lines; a field of forward, so that handing its
// method to forwardHeaders allocates nothing.
type headWriter struct{ bw *bufio.Writer }

func (h *headWriter) set(k, v string) { writeHeaderLine(h.bw, k, v) }

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(headerValue(v))
	bw.WriteString("\r\n")
}

// headerValue trims a value and turns line breaks into spaces, as
// net/http's Header.Write does (the server has refused them already).
func headerValue(v string) string {
	v = textproto.TrimString(v)
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
	}
	return v
}

func headerValuesHaveToken(vv []string, token string) bool {
	for _, v := range vv {
		if headerHasToken(v, token) {
			return true
		}
	}
	return false
}
