package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The proxy's HTTP/1.1 loop and its client to HTTP/1.1 upstreams read the
// plain requests and answers that make up nearly all traffic themselves, and
// leave everything else to http.ReadRequest and http.ReadResponse. The head
// becomes one string, and header keys and values are slices of it: one
// allocation for all of them, where net/http makes one per value plus its
// reader's own. Reading heads with net/http was about a tenth of the
// proxy's CPU time per request (docs/BENCHMARKS.md, "Proxy tap"). On
// everything they take, they agree with net/http
// (TestPlainRequestMatchesReadRequest, TestPlainResponseMatchesReadResponse
// and their fuzz targets).

// headerBuf is a connection's header map and value slice, reused from one
// head to the next: a head's header must not be used after the next head
// is read on the same connection (the HTTP/1.1 loop serves one request at
// a time; the direct forwarding path copies an answer's header to the
// client before its body, and so before the connection can carry another
// exchange). The zero value allocates afresh each time.
type headerBuf struct {
	reuse bool
	hdr   http.Header
	vals  []string
}

// readPlainRequest reads a request whose head simpleRequestHead has
// accepted (it is in br's buffer), unless something in it is out of the
// ordinary (a Pragma header, a malformed name or target); then it reports
// false, consumes nothing, and http.ReadRequest reads the request (and
// gives its errors).
func readPlainRequest(br *bufio.Reader, hb *headerBuf) (*http.Request, bool) {
	buf, _ := br.Peek(br.Buffered())
	end := headEnd(buf)
	if end < 0 {
		return nil, false
	}
	s := string(buf[:end])
	line, rest := cutLine(s)
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || !validFieldName(method) || target == "" {
		return nil, false
	}
	minor := 1
	switch proto {
	case "HTTP/1.1":
	case "HTTP/1.0":
		minor = 0
	default:
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	hdr, length, ok := hb.read(rest)
	if !ok || len(hdr["Host"]) > 1 || len(hdr["Content-Length"]) > 1 {
		return nil, false
	}
	_, _ = br.Discard(end)
	req := &http.Request{
		Method: method, URL: u, Proto: proto, ProtoMajor: 1, ProtoMinor: minor,
		Header: hdr, ContentLength: length, Host: u.Host, RequestURI: target,
	}
	if req.Host == "" {
		req.Host = hdr.Get("Host")
	}
	delete(hdr, "Host") // as http.ReadRequest does
	conn := hdr["Connection"]
	req.Close = hasToken(conn, "close") || (minor == 0 && !hasToken(conn, "keep-alive"))
	if length == 0 {
		req.Body = http.NoBody
	} else {
		req.Body = &fixedBody{r: br, n: length}
	}
	return req, true
}

// read reads header lines (up to the empty line) into a header, with the
// body's declared length (0 when none is declared). It reports false for
// what the plain readers leave to net/http: malformed lines,
// Transfer-Encoding, Trailer, Pragma (net/http adds Cache-Control for it),
// an invalid or repeated Content-Length.
func (hb *headerBuf) read(rest string) (http.Header, int64, bool) {
	lines := strings.Count(rest, "\n")
	var hdr http.Header
	var vals []string
	if hb.reuse && hb.hdr != nil {
		hdr, vals = hb.hdr, hb.vals[:0]
		clear(hdr)
	} else {
		hdr, vals = make(http.Header, lines), make([]string, 0, lines)
		if hb.reuse {
			hb.hdr = hdr
		}
	}
	defer func() {
		if hb.reuse {
			hb.vals = vals[:0]
		}
	}()
	length, lengths := int64(0), 0
	for rest != "" {
		var line string
		line, rest = cutLine(rest)
		if line == "" {
			break // the empty line that ends the head
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validFieldName(name) || !validValueString(value) {
			return nil, 0, false
		}
		value = trimOWS(value)
		key := textproto.CanonicalMIMEHeaderKey(name) // allocates only when not canonical
		switch key {
		case "Transfer-Encoding", "Trailer", "Pragma":
			return nil, 0, false
		case "Content-Length":
			n, ok := parseLength(value)
			if !ok || lengths > 0 {
				return nil, 0, false
			}
			length, lengths = n, 1
		}
		vals = append(vals, value)
		if vv, ok := hdr[key]; ok {
			hdr[key] = append(vv, value)
		} else {
			hdr[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	return hdr, length, true
}

// readPlainResponse reads an upstream's answer when it is plain: HTTP/1.1,
// a final status with a body of declared length, no Transfer-Encoding,
// Trailer or Pragma, well-formed header lines, and a head that fits br's
// buffer. For anything else it reports false and consumes nothing, and
// http.ReadResponse reads the answer (and gives its errors).
func readPlainResponse(br *bufio.Reader, req *http.Request, hb *headerBuf) (*http.Response, bool) {
	if req.Method == http.MethodHead {
		return nil, false
	}
	head, ok, _ := peekHead(br, br.Size())
	if !ok {
		return nil, false // http.ReadResponse reads again and reports any error
	}
	s := string(head)
	line, rest := cutLine(s)
	if len(line) < len("HTTP/1.1 200") || line[:9] != "HTTP/1.1 " || (len(line) > 12 && line[12] != ' ') {
		return nil, false
	}
	code := 0
	for _, c := range []byte(line[9:12]) {
		if c < '0' || c > '9' {
			return nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false
	}
	status := line[9:]
	hdr, length, ok := hb.read(rest)
	if !ok || len(hdr["Content-Length"]) != 1 {
		return nil, false // no length (read to close): http.ReadResponse decides
	}
	_, _ = br.Discard(len(head))
	resp := &http.Response{
		Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, ContentLength: length, Request: req,
	}
	if hasToken(hdr["Connection"], "close") {
		resp.Close = true
		delete(hdr, "Connection") // as http.ReadResponse does
	}
	if length == 0 {
		resp.Body = http.NoBody
	} else {
		resp.Body = &fixedBody{r: br, n: length}
	}
	return resp, true
}

// cutLine returns the first line of s without its line end, and the rest.
func cutLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// hasToken reports whether comma-separated header values hold token, ASCII
// case-insensitively (as net/http compares them: strings.EqualFold would
// also fold non-ASCII letters).
func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for part := range strings.SplitSeq(v, ",") {
			if asciiEqualFold([]byte(trimOWS(part)), token) {
				return true
			}
		}
	}
	return false
}

// trimOWS trims spaces and tabs at both ends.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validValueString is validValue for a string.
func validValueString(v string) bool {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validFieldName reports whether a header name is a non-empty token
// (RFC 9110, section 5.6.2).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := int64(0)
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// fixedBody is a body of declared length: it ends with io.EOF after n bytes
// (with the last ones), and with io.ErrUnexpectedEOF when the connection
// ends first, as net/http's bodies do.
type fixedBody struct {
	r *bufio.Reader
	n int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case b.n == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *fixedBody) Close() error { return nil }
