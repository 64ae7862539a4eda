package proxy_test

import (
	"bytes"
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

// seen is what the upstream received.
type seen struct {
	uri, host string
	header    http.Header
	body      int
	chunked   bool
}

// recordingUpstream answers 200 with a body and passes what it received on.
func recordingUpstream(t *testing.T) (*httptest.Server, chan seen) {
	t.Helper()
	got := make(chan seen, 8)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got <- seen{uri: r.RequestURI, host: r.Host, header: r.Header.Clone(), body: int(n), chunked: len(r.TransferEncoding) > 0}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	return up, got
}

// TestForwardPathsAgree sends the same request once with a body of known
// length (the direct path) and once with a streamed body (ReverseProxy):
// the upstream must receive the same target and the same headers, with the
// client's hop-by-hop, forwarding and identity headers replaced.
func TestForwardPathsAgree(t *testing.T) {
	up, got := recordingUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL + "/base"})
	c := f.client(f.clientCA.Issue(t, proxytest.Leaf{CommonName: "svc", SPIFFEID: workloadID}), nil)
	defer c.CloseIdleConnections()
	hdr := http.Header{
		"Connection":          {"X-Hop-Custom"},
		"X-Hop-Custom":        {"must not pass"},
		"Keep-Alive":          {"timeout=5"},
		"Te":                  {"trailers"},
		"Proxy-Authorization": {"Basic eA=="},
		"Forwarded":           {"for=1.2.3.4"},
		"X-Forwarded-For":     {"1.2.3.4"},
		"X-Forwarded-Host":    {"evil.example"},
		"X-Tapline-Principal": {"spoofed"},
		"X_Tapline_Decision":  {"allow"},
		"X-Request-Id":        {"spoofed-id"},
		"X-End-To-End":        {"a", "b"},
		"User-Agent":          {"forward-test"},
	}
	payload := bytes.Repeat([]byte("p"), 300)
	send := func(body io.Reader) seen {
		req, err := http.NewRequest(http.MethodPost, f.url("/x/y?q=1&a=1;b=2"), body)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		require.Equal(t, "ok", string(b))
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("the upstream saw nothing")
		}
		return seen{}
	}
	direct := send(bytes.NewReader(payload))
	streamed := send(io.MultiReader(bytes.NewReader(payload))) // unknown length: streamed
	require.False(t, direct.chunked)
	require.True(t, streamed.chunked)
	require.Equal(t, len(payload), direct.body)
	require.Equal(t, len(payload), streamed.body)

	require.Equal(t, streamed.uri, direct.uri)
	require.Equal(t, "/base/x/y?q=1", direct.uri) // unparsable parameters dropped, as net/url reads them
	require.Equal(t, streamed.host, direct.host)
	for _, s := range []seen{direct, streamed} {
		for _, k := range []string{"X-Hop-Custom", "Keep-Alive", "Proxy-Authorization", "Forwarded"} {
			require.NotContains(t, s.header, k)
		}
		require.Equal(t, []string{"trailers"}, s.header["Te"])
		require.Equal(t, []string{"127.0.0.1"}, s.header["X-Forwarded-For"])
		require.Equal(t, []string{"forward-test"}, s.header["User-Agent"])
		require.Equal(t, []string{"a", "b"}, s.header["X-End-To-End"])
		require.Equal(t, []string{workloadID}, s.header[proxy.HeaderPrincipal])
		require.Equal(t, []string{event.DecisionAllow}, s.header[proxy.HeaderDecision])
		require.NotEqual(t, []string{"spoofed-id"}, s.header[proxy.HeaderRequestID])
		require.Len(t, s.header[proxy.HeaderTraceparent], 1)
	}
	// Apart from the framing and the per-request ids, the headers match.
	for _, s := range []seen{direct, streamed} {
		for _, k := range []string{"Content-Length", "Transfer-Encoding", proxy.HeaderRequestID, proxy.HeaderTraceparent} {
			delete(s.header, k)
		}
	}
	require.Equal(t, streamed.header, direct.header)
}

// TestForwardAnswers covers answers on the direct path: hop-by-hop headers
// removed, trailers passed on, streamed answers flushed, HEAD and 204
// without a body, and an answer cut short by the upstream cutting the
// client's connection too.
func TestForwardAnswers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Connection", "X-Up-Hop")
			w.Header().Set("X-Up-Hop", "no")
			w.Header().Set("X-Kept", "yes")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
		case "/stream":
			for i := range 3 {
				_, _ = io.WriteString(w, strings.Repeat(string(rune('a'+i)), 10))
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/cut":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "only part")
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	defer up.Close()
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	c := f.client(f.clientCA.Issue(t, proxytest.Leaf{CommonName: "svc", SPIFFEID: workloadID}), nil)
	defer c.CloseIdleConnections()

	res := f.do(t, c, http.MethodGet, "/trailer", nil, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "body", string(res.body))
	require.Equal(t, "yes", res.header.Get("X-Kept"))
	require.Empty(t, res.header.Get("X-Up-Hop"))

	req, err := http.NewRequest(http.MethodGet, f.url("/trailer"), nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, "42", resp.Trailer.Get("X-Sum"))

	res = f.do(t, c, http.MethodGet, "/stream", nil, nil)
	require.Equal(t, strings.Repeat("a", 10)+strings.Repeat("b", 10)+strings.Repeat("c", 10), string(res.body))

	res = f.do(t, c, http.MethodHead, "/plain", nil, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Empty(t, res.body)
	res = f.do(t, c, http.MethodGet, "/empty", nil, nil)
	require.Equal(t, http.StatusNoContent, res.status)
	res = f.do(t, c, http.MethodGet, "/plain", nil, nil)
	require.Equal(t, "hello", string(res.body))

	req, err = http.NewRequest(http.MethodGet, f.url("/cut"), nil)
	require.NoError(t, err)
	resp, err = c.Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	require.Error(t, err, "a cut answer must not look whole")
}
