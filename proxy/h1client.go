package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// h1Client is the proxy's HTTP/1.1 client to an upstream. Unlike
// http.Transport, which hands each request to two goroutines per connection
// (one writing, one reading), it writes the request and reads the response
// on the caller's goroutine: one request through the proxy then costs one
// goroutine and no hand-offs, which is most of the difference between the
// two under load (BenchmarkRequest, package proxybench).
//
// It keeps idle keep-alive connections (newest first), checks that an idle
// connection is still open before using it, and replays a request once on a
// fresh connection when a kept-alive one turns out closed before any answer
// (only when the body can be replayed). It has no HTTP/2; h2c upstreams use
// http.Transport.
type h1Client struct {
	addr           string
	dialer         *net.Dialer
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	maxIdle        int
	writeBufferLen int

	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

type upConn struct {
	c     net.Conn
	rc    *readCounter // under br: how many bytes the upstream sent
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // idle since
	hb    headerBuf // the answers' header, for Forward's exchanges
}

func newH1Client(addr string, c UpstreamConfig) *h1Client {
	return &h1Client{
		addr:           addr,
		dialer:         &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second},
		headerTimeout:  c.ResponseHeaderTimeout,
		idleTimeout:    c.IdleConnTimeout,
		maxIdle:        c.MaxIdleConns,
		writeBufferLen: 8 << 10,
	}
}

// errConnReused marks a failure on a kept-alive connection before any byte
// of an answer: the upstream had closed it. The request may be replayed.
var errConnReused = errors.New("kept-alive upstream connection was closed")

// RoundTrip sends req and returns the response, whose body must be read
// to the end or closed.
func (t *h1Client) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	x := exchange{req: req, write: func(w *bufio.Writer) error { return req.Write(w) }, close: req.Close}
	return t.do(req.Context(), &x, replayable, func() error {
		if req.Body == nil || req.Body == http.NoBody {
			return nil
		}
		body, err := req.GetBody()
		if err != nil {
			return err
		}
		req.Body = body
		return nil
	})
}

// Forward sends a request the proxy writes itself (write puts the head and
// the whole body on the connection) and returns the response, whose body
// must be read to the end or closed. in is the client's request: its method
// and context. The request can always be replayed, since write can run again.
func (t *h1Client) Forward(in *http.Request, write func(*bufio.Writer) error) (*http.Response, error) {
	x := exchange{req: in, write: write, reuseHeader: true}
	return t.do(in.Context(), &x, true, nil)
}

// exchange is one request on an upstream connection.
type exchange struct {
	req   *http.Request // the answer is read for its method (HEAD has no body)
	write func(*bufio.Writer) error
	close bool // the request asks to close the connection after the answer
	// reuseHeader: the answer's header may live in the connection's
	// reused map (its reader is done with it before the body ends).
	reuseHeader bool
}

// do runs an exchange, on an idle connection if there is one; when a
// kept-alive connection turns out closed before any answer, a replayable
// exchange is sent once more on a fresh connection (after rewind).
func (t *h1Client) do(ctx context.Context, x *exchange, replayable bool, rewind func() error) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(ctx, replayable)
		if err != nil {
			return nil, err
		}
		resp, err := t.roundTrip(ctx, pc, x, reused)
		if err == nil {
			return resp, nil
		}
		_ = pc.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, errConnReused) || attempt > 0 || !replayable {
			return nil, err
		}
		if rewind != nil {
			if rerr := rewind(); rerr != nil {
				return nil, err
			}
		}
	}
}

// peekAfter is how long a connection must have been idle before it is
// checked for closure ahead of a replayable request; a request that cannot
// be replayed always checks. (The check is a system call; a connection
// closed within this time is caught by the replay instead.)
const peekAfter = time.Second

// get returns a live idle connection, or a new one.
func (t *h1Client) get(ctx context.Context, replayable bool) (*upConn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		pc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		idle := now.Sub(pc.since)
		if idle < t.idleTimeout && ((replayable && idle < peekAfter) || connAlive(pc.c)) {
			return pc, true, nil
		}
		_ = pc.c.Close()
	}
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	rc := &readCounter{r: c}
	return &upConn{c: c, rc: rc, br: bufio.NewReaderSize(rc, 8<<10), bw: bufio.NewWriterSize(c, t.writeBufferLen), hb: headerBuf{reuse: true}}, false, nil
}

// put keeps a connection for the next request, or closes it.
func (t *h1Client) put(pc *upConn) {
	pc.since = time.Now()
	t.mu.Lock()
	if t.closed || len(t.idle) >= t.maxIdle {
		t.mu.Unlock()
		_ = pc.c.Close()
		return
	}
	t.idle = append(t.idle, pc)
	t.mu.Unlock()
}

// CloseIdleConnections closes the idle connections; with shutdown it also
// stops keeping new ones.
func (t *h1Client) CloseIdleConnections() { t.closeIdle(false) }

func (t *h1Client) closeIdle(shutdown bool) {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	if shutdown {
		t.closed = true
	}
	t.mu.Unlock()
	for _, pc := range idle {
		_ = pc.c.Close()
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// neverStopped stands for context.AfterFunc's stop on a context that is
// never cancelled: the function never runs, so stopping always succeeds.
func neverStopped() bool { return true }

func (t *h1Client) roundTrip(ctx context.Context, pc *upConn, x *exchange, reused bool) (*http.Response, error) {
	// A cancelled request (the client went away) unblocks reads and writes.
	// Requests of the proxy's own HTTP/1.1 loop have no cancellation.
	stop := neverStopped
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		return nil, err
	}
	if t.headerTimeout > 0 {
		_ = pc.c.SetDeadline(time.Now().Add(t.headerTimeout))
	}
	readBefore := pc.rc.n
	if err := x.write(pc.bw); err != nil {
		return fail(staleOr(err, reused && pc.rc.n == readBefore))
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(staleOr(err, reused && pc.rc.n == readBefore))
	}
	var resp *http.Response
	for {
		var err error
		var ok bool
		hb := &headerBuf{}
		if x.reuseHeader {
			hb = &pc.hb
		}
		if resp, ok = readPlainResponse(pc.br, x.req, hb); !ok {
			resp, err = http.ReadResponse(pc.br, x.req)
		}
		if err != nil {
			return fail(staleOr(err, reused && pc.rc.n == readBefore))
		}
		reused = false // an answer has begun: never replay from here
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 100 Continue, 102, 103: informational, the answer follows.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if t.headerTimeout > 0 {
		_ = pc.c.SetDeadline(time.Time{})
		if ctx.Err() != nil { // cancelled while the deadline was being cleared
			_ = pc.c.SetDeadline(aLongTimeAgo)
		}
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The reverse proxy takes the connection over (WebSockets).
		resp.Body = &upgradedConn{pc: pc, stop: stop}
		return resp, nil
	}
	reusable := !resp.Close && !x.close && resp.ProtoAtLeast(1, 1)
	resp.Body = &upBody{t: t, pc: pc, rc: resp.Body, stop: stop, reusable: reusable}
	return resp, nil
}

// staleOr marks errors on a reused connection, before any byte of an
// answer, that mean the upstream closed it while it was idle.
func staleOr(err error, nothingRead bool) error {
	if nothingRead && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		return fmt.Errorf("%w: %w", errConnReused, err)
	}
	return err
}

// readCounter counts the bytes read from a connection.
type readCounter struct {
	r io.Reader
	n int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// upBody returns the connection to the pool once the body was read to its
// end, and closes it if the body is abandoned.
type upBody struct {
	t        *h1Client
	pc       *upConn
	rc       io.ReadCloser
	stop     func() bool
	reusable bool
	eof      bool
	done     bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("read on closed upstream body")
	}
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof = true
		b.release()
	}
	return n, err
}

func (b *upBody) Close() error {
	if !b.eof && !b.done {
		// Abandoned before its end: the connection is in an unknown state.
		b.reusable = false
		b.release()
	}
	return nil
}

func (b *upBody) release() {
	if b.done {
		return
	}
	b.done = true
	_ = b.rc.Close()
	if b.stop() && b.reusable {
		b.t.put(b.pc)
		return
	}
	_ = b.pc.c.Close()
}

// upgradedConn is the body of a 101 answer: the raw connection, both ways.
type upgradedConn struct {
	pc   *upConn
	stop func() bool
	once sync.Once
}

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.pc.c.Write(p) }
func (u *upgradedConn) Close() error {
	u.once.Do(func() { u.stop() })
	return u.pc.c.Close()
}

// connAlive reports whether an idle connection is still open: a
// non-blocking peek sees EOF when the upstream has closed it.
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	err = rc.Read(func(fd uintptr) bool {
		alive = peekAlive(fd)
		return true
	})
	return err == nil && alive
}

// peekState is what a non-blocking peek at a socket found.
type peekState int

const (
	peekNothing peekState = iota // open, nothing to read
	peekData                     // bytes wait to be read
	peekClosed                   // EOF or an error
)

var _ http.RoundTripper = (*h1Client)(nil)
