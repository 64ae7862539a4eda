package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The proxy serves plain HTTP/1.1 requests on its TLS connections itself,
// instead of through net/http's server: per request, net/http starts a
// goroutine that reads ahead on the connection (to notice a client going
// away), builds a cancellable context and a response with its own buffers;
// together with the scheduling they cause, that was about a tenth of the
// proxy's CPU time per request (docs/BENCHMARKS.md, "Proxy tap"). This loop reads
// the request (readPlainRequest, else http.ReadRequest) and answers through
// h1Writer, on the connection's own goroutine.
//
// It takes only what it can serve exactly as net/http would: HTTP/1.0 and
// 1.1 requests whose head fits its buffer, without a body or with a body of
// known length up to bufferedBodyBytes, without Expect, Upgrade or
// Transfer-Encoding. At the first request it does not take, it hands the
// connection — with the bytes it has read and not used — to the listener's
// http.Server, which then serves it to the end. HTTP/2 connections go to
// http.Server at once.

// h1BufferBytes is the size of the read and write buffers of a connection;
// a request head must fit the read buffer to be served here.
const h1BufferBytes = 8 << 10

// maxDiscardBytes is how much of an unread request body is read away to
// keep the connection; more, and the connection is closed.
const maxDiscardBytes = 256 << 10

// serveH1 serves a connection's requests until the connection closes (nil)
// or a request must go to http.Server (the connection to hand over).
func (p *Proxy) serveH1(l *listener, conn *tls.Conn, tc *trackedConn) net.Conn {
	ci := tc.info
	p.metrics.conns.WithLabelValues(l.name).Inc()
	handedOver := false
	defer func() {
		if !handedOver {
			p.metrics.conns.WithLabelValues(l.name).Dec()
		}
	}()
	br := bufio.NewReaderSize(conn, h1BufferBytes)
	bw := bufio.NewWriterSize(conn, h1BufferBytes)
	remote := tc.RemoteAddr().String()
	w := &h1Writer{conn: conn, raw: tc.Conn, br: br, bw: bw, header: http.Header{}}
	maxHead := min(h1BufferBytes, int(l.cfg.MaxHeaderBytes))
	hb := headerBuf{reuse: true} // one request at a time: its header is reused
	for first := true; ; first = false {
		if !first && br.Buffered() == 0 {
			if !p.waitNextRequest(l, conn, br) {
				_ = conn.Close()
				return nil
			}
		}
		t0 := time.Now()
		if d := headerTimeout(l); d > 0 {
			_ = conn.SetReadDeadline(t0.Add(d))
		}
		ok, err := simpleRequestHead(br, maxHead)
		if err != nil {
			_ = conn.Close()
			return nil
		}
		if !ok {
			handedOver = true
			p.metrics.conns.WithLabelValues(l.name).Dec() // http.Server counts it from here
			_ = conn.SetReadDeadline(time.Time{})
			return &handedConn{Conn: conn, br: br}
		}
		req, plain := readPlainRequest(br, &hb)
		if !plain {
			req, err = http.ReadRequest(br)
		}
		if err != nil {
			_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
			_ = conn.Close()
			return nil
		}
		if d := l.cfg.ReadTimeout; d > 0 {
			_ = conn.SetReadDeadline(t0.Add(d))
		} else {
			_ = conn.SetReadDeadline(time.Time{})
		}
		if d := l.cfg.WriteTimeout; d > 0 {
			_ = conn.SetWriteDeadline(t0.Add(d))
		}
		// The request keeps the background context (it is never cancelled
		// on this loop): the connection's facts go to the handler directly,
		// not through a context a per-request copy of the request would carry.
		req.RemoteAddr = remote
		req.TLS = ci.state
		if !p.beginRequest() {
			_ = conn.Close()
			return nil
		}
		w.reset(req, p.isDraining)
		keep := p.serveOne(l, ci, w, req)
		p.inflight.Done()
		if !keep {
			_ = conn.Close()
			return nil
		}
	}
}

// serveOne runs the handler for one request and finishes the answer; it
// reports whether the connection can carry another request.
func (p *Proxy) serveOne(l *listener, ci *connInfo, w *h1Writer, req *http.Request) (keep bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				p.logger.Error("proxy: handler panic", "listener", l.name, "panic", v)
			}
			keep = false
		}
	}()
	p.serve(l, ci, w, req)
	if err := w.finish(); err != nil || w.closeAfter {
		return false
	}
	if b, ok := req.Body.(*fixedBody); req.Body == http.NoBody || ok && b.n == 0 {
		return true // the body was read to its end
	}
	// What the handler left of the body is read away (a refused request's
	// body, say), up to a limit.
	n, err := io.CopyN(io.Discard, req.Body, maxDiscardBytes)
	return n < maxDiscardBytes && (err == nil || errors.Is(err, io.EOF))
}

// waitNextRequest waits for the next request on a kept-alive connection,
// at most the idle timeout; false when there is none or the proxy stops.
func (p *Proxy) waitNextRequest(l *listener, conn *tls.Conn, br *bufio.Reader) bool {
	if p.isDraining() {
		return false
	}
	idle := l.cfg.IdleTimeout
	if idle == 0 {
		idle = l.cfg.ReadTimeout
	}
	if idle > 0 {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
	} else {
		_ = conn.SetReadDeadline(time.Time{})
	}
	_, err := br.Peek(1)
	return err == nil
}

func headerTimeout(l *listener) time.Duration {
	if d := l.cfg.ReadHeaderTimeout; d > 0 {
		return d
	}
	return l.cfg.ReadTimeout
}

// beginRequest counts a request in flight, unless the proxy is stopping.
func (p *Proxy) beginRequest() bool {
	p.drainMu.RLock()
	defer p.drainMu.RUnlock()
	if p.draining {
		return false
	}
	p.inflight.Add(1)
	return true
}

func (p *Proxy) isDraining() bool {
	p.drainMu.RLock()
	defer p.drainMu.RUnlock()
	return p.draining
}

// simpleRequestHead waits for a whole request head in br (at most max
// bytes) and reports whether this loop serves it (see above). It consumes
// nothing.
func simpleRequestHead(br *bufio.Reader, max int) (bool, error) {
	head, ok, err := peekHead(br, max)
	if err != nil {
		return false, err // closed, or too slow (as net/http, no answer)
	}
	if !ok {
		return false, nil // a large head: http.Server answers it (431)
	}
	line, rest, _ := bytes.Cut(head, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	method, line, ok1 := bytes.Cut(line, []byte(" "))
	_, proto, ok2 := bytes.Cut(line, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || string(method) == http.MethodConnect || string(method) == "PRI" {
		return false, nil
	}
	http11 := string(proto) == "HTTP/1.1"
	if !http11 && string(proto) != "HTTP/1.0" {
		return false, nil
	}
	hosts, lengths := 0, 0
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return false, nil // obsolete line folding
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !validValue(value) {
			return false, nil
		}
		switch {
		case asciiEqualFold(name, "host"):
			hosts++
			if !simpleHost(bytes.TrimSpace(value)) {
				return false, nil
			}
		case asciiEqualFold(name, "content-length"):
			lengths++
			n, err := strconv.ParseUint(string(bytes.TrimSpace(value)), 10, 63)
			if err != nil || n > bufferedBodyBytes {
				return false, nil
			}
		case asciiEqualFold(name, "transfer-encoding"), asciiEqualFold(name, "expect"), asciiEqualFold(name, "upgrade"):
			return false, nil
		}
	}
	if lengths > 1 || hosts > 1 || (http11 && hosts == 0) {
		return false, nil
	}
	return true, nil
}

// peekHead waits until br holds a whole head (through its blank line) of
// at most max bytes and returns it without consuming anything. ok is false
// when the head is longer than max or a read ended the wait (err).
func peekHead(br *bufio.Reader, max int) (head []byte, ok bool, err error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := headEnd(buf); i >= 0 {
			return buf[:i], true, nil
		}
		if len(buf) >= max {
			return nil, false, nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, false, err
		}
	}
}

// headEnd returns the length of the request head in buf, through the empty
// line that ends it, or -1 when buf does not hold all of it.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
}

// validValue reports whether a header value holds no control characters
// other than tab (net/http refuses those with 400).
func validValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// simpleHost accepts host names, IPv4 and bracketed IPv6 addresses with an
// optional port; anything else is left to net/http's own checks.
func simpleHost(h []byte) bool {
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// handedConn is a connection handed to http.Server with the bytes already
// read from it. NetConn lets the server's ConnContext find the connection's
// facts, as for any other connection.
type handedConn struct {
	*tls.Conn
	br *bufio.Reader
}

func (c *handedConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// h1Writer is the http.ResponseWriter of the HTTP/1.1 loop. The answer's
// head is written when the body starts (or at the end), with a
// Content-Length when the handler set one, else chunked (HTTP/1.1) or up
// to the connection's close (HTTP/1.0).
type h1Writer struct {
	conn     *tls.Conn
	raw      net.Conn // the TCP connection under TLS
	br       *bufio.Reader
	bw       *bufio.Writer
	header   http.Header
	req      *http.Request
	draining func() bool

	wroteHeader bool
	status      int
	noBody      bool
	chunked     bool
	length      int64 // declared Content-Length, -1 when none
	written     int64
	trailers    []string // names announced in the Trailer header
	closeAfter  bool
	err         error
}

func (w *h1Writer) reset(req *http.Request, draining func() bool) {
	clear(w.header)
	*w = h1Writer{conn: w.conn, raw: w.raw, br: w.br, bw: w.bw, header: w.header, req: req, draining: draining, length: -1}
	w.closeAfter = req.Close || !req.ProtoAtLeast(1, 1)
}

func (w *h1Writer) Header() http.Header { return w.header }

// clientGone reports whether the client has closed the connection (a FIN,
// a reset, or a TLS alert such as close_notify waiting to be read),
// without waiting: net/http notices this with a read it keeps running
// during each request; this loop peeks at the socket when an answer is
// about to be written. A pipelined request is left where it is.
func (w *h1Writer) clientGone() bool {
	if w.br.Buffered() > 0 {
		return false
	}
	sc, ok := w.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	state := peekNothing
	if err := rc.Read(func(fd uintptr) bool { state = peekSocket(fd); return true }); err != nil {
		state = peekClosed
	}
	if state == peekData {
		// A TLS record waits (TLS 1.3 hides whether it is an alert): read
		// it; a pipelined request stays in the buffer, close_notify ends
		// the connection.
		_ = w.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := w.br.Peek(1); err != nil && !os.IsTimeout(err) {
			state = peekClosed
		}
		_ = w.conn.SetReadDeadline(time.Time{})
	}
	if state == peekClosed {
		w.closeAfter = true
		return true
	}
	return false
}

func (w *h1Writer) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		return // informational answers are not passed on
	}
	w.wroteHeader, w.status = true, code
	h := w.header
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(h, "Content-Length")
		}
	}
	if w.draining() {
		w.closeAfter = true
	}
	if !w.noBody && w.length < 0 {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
		} else {
			w.closeAfter = true
		}
	}
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	var nb [20]byte
	bw.Write(strconv.AppendInt(nb[:0], int64(code), 10))
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		bw.Write(strconv.AppendInt(nb[:0], int64(code), 10))
	}
	bw.WriteString("\r\n")
	for k, vv := range h {
		if k == "Transfer-Encoding" || k == "Connection" || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	if _, ok := h["Date"]; !ok {
		var db [40]byte
		bw.Write(time.Now().UTC().AppendFormat(append(db[:0], "Date: "...), http.TimeFormat))
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

func (w *h1Writer) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(b), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(b)) > w.length {
		return 0, http.ErrContentLength
	}
	if len(b) == 0 {
		return 0, nil
	}
	if w.chunked {
		var nb [16]byte
		w.bw.Write(strconv.AppendInt(nb[:0], int64(len(b)), 16))
		w.bw.WriteString("\r\n")
	}
	n, err := w.bw.Write(b)
	if w.chunked && err == nil {
		_, err = w.bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends what is buffered to the client.
func (w *h1Writer) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// FlushError is Flush reporting the error (http.ResponseController).
func (w *h1Writer) FlushError() error {
	w.Flush()
	return w.err
}

// finish completes the answer after the handler: the head if nothing was
// written, the last chunk and trailers, and sends it all.
func (w *h1Writer) finish() error {
	if !w.wroteHeader {
		if _, ok := w.header["Content-Length"]; !ok && w.req.Method != http.MethodHead {
			w.header["Content-Length"] = []string{"0"}
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		for _, k := range w.trailers {
			for _, v := range w.header[k] {
				writeHeaderLine(w.bw, k, v)
			}
		}
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vv {
					writeHeaderLine(w.bw, name, v)
				}
			}
		}
		w.bw.WriteString("\r\n")
	}
	if w.length >= 0 && w.written != w.length && !w.noBody {
		w.closeAfter = true // a short body: the client must not wait for the rest
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	return w.err
}

var _ http.ResponseWriter = (*h1Writer)(nil)
var _ http.Flusher = (*h1Writer)(nil)
