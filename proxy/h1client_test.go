package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawUpstream answers each request on a connection with answer(i), i
// counting requests over all connections; closeAfter closes the connection
// after that many answers on it (0: never), silently, as a server whose
// keep-alive timeout passed does.
func rawUpstream(t *testing.T, closeAfter int, answer func(i int64) string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for served := 0; closeAfter == 0 || served < closeAfter; served++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, answer(n.Add(1))); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &n
}

func testClient(addr string) *h1Client {
	c := DefaultUpstream()
	c.ResponseHeaderTimeout = 2 * time.Second
	return newH1Client(addr, c)
}

func get(t *testing.T, c *h1Client, ctx context.Context, body string) (*http.Response, string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://upstream/x", rd)
	require.NoError(t, err)
	if body != "" {
		b := body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(b)), nil }
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, string(out), err
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

func TestH1ClientKeepsAndReusesConnections(t *testing.T) {
	addr, _ := rawUpstream(t, 0, func(int64) string { return okAnswer })
	c := testClient(addr)
	defer c.closeIdle(true)
	for range 3 {
		_, body, err := get(t, c, context.Background(), "x")
		require.NoError(t, err)
		require.Equal(t, "ok", body)
	}
	require.Len(t, c.idle, 1, "one connection served all three")
}

func TestH1ClientReplaysOnAClosedIdleConnection(t *testing.T) {
	addr, n := rawUpstream(t, 1, func(int64) string { return okAnswer })
	c := testClient(addr)
	defer c.closeIdle(true)
	_, _, err := get(t, c, context.Background(), "body")
	require.NoError(t, err)
	// The upstream closed the kept connection; a replayable request goes
	// through on a new one (the liveness peek or the replay catches it).
	require.Eventually(t, func() bool {
		_, body, err := get(t, c, context.Background(), "body")
		return err == nil && body == "ok"
	}, 5*time.Second, 10*time.Millisecond)
	require.GreaterOrEqual(t, n.Load(), int64(2))
}

func TestH1ClientSkipsInformationalAnswers(t *testing.T) {
	addr, _ := rawUpstream(t, 0, func(int64) string {
		return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + okAnswer
	})
	c := testClient(addr)
	defer c.closeIdle(true)
	resp, body, err := get(t, c, context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "ok", body)
}

func TestH1ClientConnectionClose(t *testing.T) {
	addr, _ := rawUpstream(t, 0, func(int64) string {
		return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
	})
	c := testClient(addr)
	defer c.closeIdle(true)
	_, _, err := get(t, c, context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, c.idle, "a connection the upstream closes is not kept")
}

func TestH1ClientTimeoutAndCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // never answers
		}
	}()
	cfg := DefaultUpstream()
	cfg.ResponseHeaderTimeout = 100 * time.Millisecond
	c := newH1Client(ln.Addr().String(), cfg)
	defer c.closeIdle(true)
	_, _, err = get(t, c, context.Background(), "")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)

	cfg.ResponseHeaderTimeout = time.Minute
	c2 := newH1Client(ln.Addr().String(), cfg)
	defer c2.closeIdle(true)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err = get(t, c2, ctx, "")
	require.ErrorIs(t, err, context.Canceled)
}

func TestH1ClientAbandonedBodyClosesConnection(t *testing.T) {
	addr, _ := rawUpstream(t, 0, func(int64) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
	})
	c := testClient(addr)
	defer c.closeIdle(true)
	req, _ := http.NewRequest(http.MethodGet, "http://upstream/", nil)
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	buf := make([]byte, 3)
	_, err = io.ReadFull(resp.Body, buf)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Empty(t, c.idle, "a half-read answer leaves the connection unusable")
}

// TestH1ClientReplayAfterUnansweredRequest: the upstream reads the second
// request on a kept connection and closes without answering (its idle
// timer fired at that moment); the request is sent again on a new
// connection, and only once.
func TestH1ClientReplayAfterUnansweredRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var seen atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					seen.Add(1)
					if i == 1 {
						return // second request on this connection: hang up
					}
					_, _ = io.WriteString(c, okAnswer)
				}
			}()
		}
	}()
	c := testClient(ln.Addr().String())
	defer c.closeIdle(true)
	_, _, err = get(t, c, context.Background(), "a")
	require.NoError(t, err)
	_, body, err := get(t, c, context.Background(), "b")
	require.NoError(t, err)
	require.Equal(t, "ok", body)
	require.Equal(t, int64(3), seen.Load())

	// A body that cannot be replayed is not sent twice.
	_, _, err = get(t, c, context.Background(), "c") // third on the new connection: answered
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodPost, "http://upstream/", io.NopCloser(strings.NewReader("d")))
	req.ContentLength = 1
	_, err = c.RoundTrip(req)
	require.ErrorIs(t, err, errConnReused)
}

func TestConnAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	server := <-accepted
	require.True(t, connAlive(c), "an idle open connection")
	require.NoError(t, server.Close())
	require.Eventually(t, func() bool { return !connAlive(c) }, 5*time.Second, 5*time.Millisecond, "a connection the peer closed")
}
