package proxy_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/proxytest"
)

// TestH1Loop drives one kept-alive connection by hand through requests the
// proxy's own HTTP/1.1 loop serves (pipelined too) and requests it hands
// to net/http's server (a chunked body, Expect: 100-continue, a large
// head), which then serves the rest of the connection.
func TestH1Loop(t *testing.T) {
	up, got := recordingUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "svc", SPIFFEID: workloadID})
	tc := f.tlsConfig(cert)
	tc.NextProtos = []string{"http/1.1"}

	type step struct {
		name   string
		raw    string
		status int
		body   int // request body bytes the upstream must see; -1: no upstream request
	}
	simple := "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
	post := "POST /b HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"
	for _, tc2 := range []struct {
		name  string
		steps []step
	}{
		{"kept alive", []step{{"get", simple, 200, 0}, {"post", post, 200, 5}, {"get again", simple, 200, 0}}},
		{"pipelined", []step{{"two at once", simple + post, 200, 0}, {"", "", 200, 5}}},
		{"chunked hands over", []step{{"get", simple, 200, 0},
			{"chunked", "POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, 3},
			{"after", post, 200, 5}}},
		{"expect hands over", []step{{"expect", "POST /e HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", 200, 2}, {"after", simple, 200, 0}}},
		{"large head hands over", []step{{"large", "GET /l HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("b", 12<<10) + "\r\n\r\n", 200, 0}, {"after", simple, 200, 0}}},
		{"refused with a body", []step{{"not canonical", "POST //x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nbody", 400, -1}, {"after", simple, 200, 0}}},
		{"bad request", []step{{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, -1}}},
		{"http/1.0 closes", []step{{"1.0", "GET /z HTTP/1.0\r\nHost: localhost\r\n\r\n", 200, 0}}},
	} {
		t.Run(tc2.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", f.addr, tc)
			require.NoError(t, err)
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			var last *http.Response
			for _, s := range tc2.steps {
				if s.raw != "" {
					_, err := io.WriteString(conn, s.raw)
					require.NoError(t, err)
				}
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err, s.name)
				if resp.StatusCode == http.StatusContinue {
					resp, err = http.ReadResponse(br, nil)
					require.NoError(t, err, s.name)
				}
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err, s.name)
				resp.Body.Close()
				require.Equal(t, s.status, resp.StatusCode, "%s: %s", s.name, b)
				if s.body >= 0 {
					require.Equal(t, "ok", string(b), s.name)
					select {
					case g := <-got:
						require.Equal(t, s.body, g.body, s.name)
						require.Equal(t, workloadID, g.header.Get("X-Tapline-Principal"), s.name)
					case <-time.After(10 * time.Second):
						t.Fatalf("%s: the upstream saw nothing", s.name)
					}
				}
				last = resp
			}
			if tc2.name == "http/1.0 closes" || tc2.name == "bad request" {
				require.True(t, last.Close, "the connection closes")
				_, err := br.ReadByte()
				require.ErrorIs(t, err, io.EOF)
			}
		})
	}
}

// TestH1LoopClientGone: a client that leaves while the upstream works is
// recorded as client-closed-request (499), as net/http's path records it.
func TestH1LoopClientGone(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "late")
	}))
	defer up.Close()
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "svc", SPIFFEID: workloadID})
	tc := f.tlsConfig(cert)
	tc.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", f.addr, tc)
	require.NoError(t, err)
	_, err = io.WriteString(conn, "GET /gone HTTP/1.1\r\nHost: localhost\r\n\r\n")
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the request reaches the upstream first
	require.NoError(t, conn.Close())
	ev := f.events.Find(t, event.AccessEvent, 10*time.Second, func(r proxytest.Record) bool { return r.Str(event.AttrURLPath) == "/gone" })
	require.Equal(t, int64(499), ev.Int(event.AttrHTTPStatus))
	require.Equal(t, proxy.ReasonClientClosed, ev.Str(event.AttrErrorType))
	require.Equal(t, "200", ev.Str(event.AttrUpstreamStatus))
}
