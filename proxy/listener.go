package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/tap"
)

// trackedConn is the TCP connection under a TLS connection. The proxy's TLS
// hooks note on it what the ClientHello said (they run on the handshake's
// goroutine), and after the handshake it carries the connection's facts to
// the HTTP server (ConnContext finds it through tls.Conn.NetConn).
type trackedConn struct {
	net.Conn
	id       string
	accepted time.Time
	addr     netip.AddrPort

	helloSeen bool
	helloMax  uint16
	sni       string

	info    *connInfo // set once the handshake succeeded
	onClose func(*trackedConn)
	once    sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.onClose != nil {
			c.onClose(c)
		}
	})
	return err
}

// connInfo is what requests need to know about their connection.
type connInfo struct {
	state   *tls.ConnectionState
	rec     tap.Conn       // recorded with every event
	peer    *identity.Cert // verified client certificate, or nil
	addr    netip.Addr
	trusted bool // the peer is a trusted proxy

	// The identity of the connection's requests that carry neither a
	// bearer token nor XFCC: it depends on the connection alone, so it is
	// resolved once (an HTTP/2 connection's requests may ask at once).
	peerOnce sync.Once
	peerRes  identity.Result
}

// peerIdentity is what r.Resolve gives a request of this connection without
// a token or XFCC. The result is shared: callers must not modify it (nor
// its Chain).
func (ci *connInfo) peerIdentity(ctx context.Context, r *identity.Resolver) identity.Result {
	ci.peerOnce.Do(func() {
		ci.peerRes = r.Resolve(ctx, identity.Request{Peer: ci.peer, PeerTrusted: ci.trusted})
	})
	return ci.peerRes
}

func newConnID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hsListener accepts TCP connections and runs their TLS handshakes
// concurrently, before the HTTP server sees them, so that every handshake —
// failed ones included — is classified and recorded. Accept returns only
// established *tls.Conn, so http.Server still detects TLS and ALPN (h2).
type hsListener struct {
	inner    net.Listener
	lt       *listenerTLS
	name     string
	timeout  time.Duration
	clock    func() time.Time
	record   func(*tap.TLSRecord, error)
	serveH1  func(*tls.Conn, *trackedConn) net.Conn // nil: every connection goes to Accept
	trusted  *identity.TrustedProxies
	ready    chan net.Conn
	closed   chan struct{}
	stopOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	acceptWG sync.WaitGroup
	hsWG     sync.WaitGroup

	mu    sync.Mutex
	conns map[*trackedConn]struct{} // every open connection, for the final close
	err   error
}

func newHSListener(inner net.Listener, lt *listenerTLS, name string, timeout time.Duration, clock func() time.Time,
	trusted *identity.TrustedProxies, record func(*tap.TLSRecord, error), serveH1 func(*tls.Conn, *trackedConn) net.Conn) *hsListener {
	h := &hsListener{
		inner: inner, lt: lt, name: name, timeout: timeout, clock: clock, trusted: trusted, record: record, serveH1: serveH1,
		ready: make(chan net.Conn), closed: make(chan struct{}), conns: map[*trackedConn]struct{}{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.acceptWG.Add(1)
	go h.acceptLoop()
	return h
}

func (h *hsListener) acceptLoop() {
	defer h.acceptWG.Done()
	var backoff time.Duration
	for {
		c, err := h.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-h.closed:
					return
				}
			}
			select {
			case <-h.closed:
			default:
				h.mu.Lock()
				h.err = err
				h.mu.Unlock()
				h.Close()
			}
			return
		}
		backoff = 0
		tc := &trackedConn{Conn: c, id: newConnID(), accepted: h.clock(), onClose: h.forget}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			tc.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		h.mu.Lock()
		select {
		case <-h.closed:
			h.mu.Unlock()
			_ = c.Close()
			return
		default:
		}
		h.conns[tc] = struct{}{}
		h.hsWG.Add(1)
		h.mu.Unlock()
		go h.handshake(tc)
	}
}

func (h *hsListener) forget(tc *trackedConn) {
	h.mu.Lock()
	delete(h.conns, tc)
	h.mu.Unlock()
}

func (h *hsListener) handshake(tc *trackedConn) {
	defer h.hsWG.Done()
	conn := tls.Server(tc, h.lt.base)
	_ = tc.SetDeadline(tc.accepted.Add(h.timeout))
	err := conn.HandshakeContext(h.ctx)
	dur := h.clock().Sub(tc.accepted)
	rec := &tap.TLSRecord{Time: tc.accepted, HandshakeDuration: dur}
	if err != nil {
		reason, presented := classifyHandshake(err, tc, h.lt.minVersion, h.clock())
		rec.Conn = &tap.Conn{ID: tc.id, Listener: h.name, ClientAddress: tc.addr.Addr().String(), ClientPort: int(tc.addr.Port()), ServerName: tc.sni}
		rec.Failure, rec.FailureDetail = reason, err.Error()
		if presented != nil {
			p := identity.CertFromX509(presented)
			rec.Presented = &p
		}
		h.record(rec, err)
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader) {
			// As net/http does: a plain-HTTP client gets an answer it can read.
			_ = rhe.Conn.SetWriteDeadline(h.clock().Add(time.Second))
			_, _ = rhe.Conn.Write([]byte("HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"))
		}
		_ = tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	cs := conn.ConnectionState()
	info := &connInfo{addr: tc.addr.Addr(), state: &cs}
	info.rec = tap.Conn{
		ID: tc.id, Listener: h.name, ClientAddress: tc.addr.Addr().String(), ClientPort: int(tc.addr.Port()),
		ServerName: cs.ServerName, TLSVersion: tlsVersionName(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite),
		ALPN: cs.NegotiatedProtocol, Resumed: cs.DidResume,
	}
	if len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
		p := identity.CertFromX509(cs.PeerCertificates[0])
		info.peer = &p
		info.rec.Peer = &p
		info.rec.MTLSVerified = true
	}
	spiffe := ""
	if info.peer != nil {
		spiffe = info.peer.SPIFFEID
	}
	info.trusted = h.trusted.Trusts(info.addr, spiffe)
	tc.info = info
	rec.Conn = &info.rec
	rec.Established = true
	h.record(rec, nil)
	var c net.Conn = conn
	if h.serveH1 != nil && cs.NegotiatedProtocol != "h2" {
		// HTTP/1.x: served on this goroutine, unless a request needs
		// http.Server (then c is the connection to hand over).
		if c = h.serveH1(conn, tc); c == nil {
			return
		}
	}
	select {
	case h.ready <- c:
	case <-h.closed:
		_ = conn.Close()
	}
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE":
		return true
	}
	return false
}

// Accept returns the next connection whose handshake succeeded.
func (h *hsListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ready:
		return c, nil
	case <-h.closed:
		h.mu.Lock()
		err := h.err
		h.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting and cuts handshakes in progress short. Established
// connections are the HTTP server's to drain.
func (h *hsListener) Close() error {
	var err error
	h.stopOnce.Do(func() {
		h.mu.Lock()
		close(h.closed)
		h.mu.Unlock()
		err = h.inner.Close()
		h.cancel()
	})
	return err
}

// wait waits for the accept loop and the handshakes to end.
func (h *hsListener) wait() {
	h.acceptWG.Wait()
	h.hsWG.Wait()
}

// closeAll closes every connection still open (hijacked WebSockets, say).
func (h *hsListener) closeAll() {
	h.mu.Lock()
	conns := make([]*trackedConn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (h *hsListener) Addr() net.Addr { return h.inner.Addr() }

// portOf returns the port of a listener address.
func portOf(a net.Addr) int {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
