package nginxreceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
)

// Syslog batching: lines that arrive together are sent on together, but no
// line waits longer than batchWait.
const (
	batchSize = 256
	batchWait = 10 * time.Millisecond
)

// udpServer receives syslog datagrams, one message each.
type udpServer struct {
	r    *nginxReceiver
	conn *net.UDPConn
}

func listenUDP(r *nginxReceiver, addr string) (*udpServer, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslog.udp: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("syslog.udp: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20) // ride out bursts; the kernel may cap it
	return &udpServer{r: r, conn: conn}, nil
}

func (s *udpServer) addr() net.Addr { return s.conn.LocalAddr() }

func (s *udpServer) close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("syslog.udp: close: %w", err)
	}
	return nil
}

func (s *udpServer) serve(ctx context.Context) {
	buf := make([]byte, 64*1024)
	parser := new(accesslog.NginxParser)
	var batch []line
	flush := func() {
		// Errors are counted in consume; syslog has no way to ask again.
		_ = s.r.consume(ctx, transportUDP, parser, batch, true)
		batch = batch[:0]
		_ = s.conn.SetReadDeadline(time.Time{})
	}
	for {
		n, _, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				flush()
				continue
			}
			flush()
			if !errors.Is(err, net.ErrClosed) {
				s.r.set.Logger.Error("syslog udp read failed", zap.Error(err))
			}
			return
		}
		m := parseSyslog(buf[:n])
		data, oversize := s.r.cut(m.msg)
		batch = append(batch, line{data: append([]byte(nil), data...), host: m.hostname, oversize: oversize})
		if len(batch) == 1 {
			_ = s.conn.SetReadDeadline(time.Now().Add(batchWait))
		}
		if len(batch) >= batchSize {
			flush()
		}
	}
}

// tcpServer accepts syslog over TCP (RFC 6587 framing).
type tcpServer struct {
	r     *nginxReceiver
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func listenTCP(r *nginxReceiver, addr string) (*tcpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslog.tcp: %w", err)
	}
	return &tcpServer{r: r, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

func (s *tcpServer) addr() net.Addr { return s.ln.Addr() }

func (s *tcpServer) close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("syslog.tcp: close: %w", err)
	}
	return nil
}

func (s *tcpServer) serve(ctx context.Context) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.r.set.Logger.Error("syslog tcp accept failed", zap.Error(err))
			}
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.serveConn(ctx, c)
		})
	}
}

func (s *tcpServer) serveConn(ctx context.Context, c net.Conn) {
	fr := newFrameReader(c, s.r.cfg.MaxLineBytes)
	parser := new(accesslog.NginxParser)
	var batch []line
	flush := func() {
		_ = s.r.consume(ctx, transportTCP, parser, batch, true)
		batch = batch[:0]
	}
	for {
		msg, err := fr.next()
		oversize := false
		switch {
		case errors.Is(err, errFrameTooLong):
			oversize = true
		case err != nil:
			flush()
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.r.stats.frameErrors.Add(1)
				s.r.set.Logger.Debug("syslog tcp connection closed", zap.Error(err))
			}
			return
		}
		m := parseSyslog(msg)
		batch = append(batch, line{data: append([]byte(nil), m.msg...), host: m.hostname, oversize: oversize})
		// Send what arrived together; wait for more only while more is buffered.
		if len(batch) >= batchSize || fr.r.Buffered() == 0 {
			flush()
		}
	}
}
