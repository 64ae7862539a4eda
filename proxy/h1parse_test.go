package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

var plainResponses = []struct {
	name   string
	method string
	raw    string
	plain  bool // readPlainResponse takes it
}{
	{"ok", "POST", "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nDate: Mon, 23 Nov 2026 12:00:00 GMT\r\nContent-Length: 5\r\n\r\nhello", true},
	{"empty body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
	{"repeated and odd-case keys", "GET", "HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nx-ID:  \t v \t\r\nX-Empty:\r\nContent-Length: 2\r\n\r\nok", true},
	{"connection close", "GET", "HTTP/1.1 500 Internal Server Error\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx", true},
	{"no reason", "GET", "HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx", true},
	{"bare line feeds", "GET", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", true},
	{"leading zeros", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 003\r\n\r\nabc", true},
	{"truncated body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true},
	{"pipelined rest stays", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n", true},
	{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false},
	{"no length", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", false},
	{"two lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"bad length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", false},
	{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false},
	{"no content", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false},
	{"not modified", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n", false},
	{"continue", "POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
	{"switching", "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false},
	{"http/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"trailer", "GET", "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Length: 1\r\n\r\nx", false},
	{"pragma", "GET", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 1\r\n\r\nx", false},
	{"space before colon", "GET", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 1\r\n\r\nx", false},
	{"folded line", "GET", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 1\r\n\r\nx", false},
	{"control character", "GET", "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 1\r\n\r\nx", false},
	{"bad status", "GET", "HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx", false},
	{"no head end", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", false},
	{"empty", "GET", "", false},
}

// TestPlainResponseMatchesReadResponse: every answer readPlainResponse
// takes reads exactly as http.ReadResponse reads it (status, headers,
// length, close, body and the body's end), and what it does not take is
// left unread for http.ReadResponse.
func TestPlainResponseMatchesReadResponse(t *testing.T) {
	hb := &headerBuf{reuse: true} // one connection's, as on the direct path
	for _, tc := range plainResponses {
		t.Run(tc.name, func(t *testing.T) {
			took, msg := comparePlainResponse(tc.method, tc.raw, hb)
			require.Empty(t, msg)
			require.Equal(t, tc.plain, took)
		})
	}
}

// TestPlainResponseReadsInPieces: the head may arrive a byte at a time.
func TestPlainResponseReadsInPieces(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(raw)), 4096)
	resp, ok := readPlainResponse(br, &http.Request{Method: "GET"}, &headerBuf{})
	require.True(t, ok)
	require.Equal(t, "b", resp.Header.Get("X-A"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "hello", string(body))
}

func FuzzPlainResponse(f *testing.F) {
	for _, tc := range plainResponses {
		f.Add(tc.method, tc.raw)
	}
	hb := &headerBuf{reuse: true}
	f.Fuzz(func(t *testing.T, method, raw string) {
		if _, msg := comparePlainResponse(method, raw, hb); msg != "" {
			t.Fatal(msg)
		}
	})
}

// comparePlainResponse reads raw with both readers; msg says how they
// differ ("" when they agree).
func comparePlainResponse(method, raw string, hb *headerBuf) (took bool, msg string) {
	req := &http.Request{Method: method}
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	got, ok := readPlainResponse(br, req, hb)
	if !ok {
		if br.Buffered() > 0 {
			if rest, _ := io.ReadAll(br); string(rest) != raw {
				return false, "consumed bytes it did not take"
			}
		}
		return false, ""
	}
	wbr := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	want, err := http.ReadResponse(wbr, req)
	if err != nil {
		return true, "taken, but http.ReadResponse refuses it: " + err.Error()
	}
	switch {
	case got.Status != want.Status || got.StatusCode != want.StatusCode:
		return true, "status: " + got.Status + " vs " + want.Status
	case got.Proto != want.Proto || got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor:
		return true, "proto differs"
	case got.ContentLength != want.ContentLength || got.Close != want.Close:
		return true, "length or close differs"
	case len(want.TransferEncoding) > 0 || len(want.Trailer) > 0:
		return true, "taken, but it has a transfer encoding or trailers"
	case !sameHeader(got.Header, want.Header):
		return true, "headers differ"
	}
	return true, compareRest(got.Body, want.Body, br, wbr, "answer")
}

// compareRest reads what both readers left: the bodies, then the bytes
// after the message (an answer or a request), and says how they differ (""
// when they agree). Body errors agree when both are nil or say the same.
func compareRest(gotBody, wantBody, gotRest, wantRest io.Reader, message string) string {
	gb, gerr := io.ReadAll(gotBody)
	wb, werr := io.ReadAll(wantBody)
	if string(gb) != string(wb) || (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		return "bodies differ"
	}
	grest, _ := io.ReadAll(gotRest)
	wrest, _ := io.ReadAll(wantRest)
	if string(grest) != string(wrest) {
		return "different bytes left after the " + message
	}
	return ""
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
	}
	return true
}

var plainRequests = []struct {
	name  string
	raw   string
	plain bool // readPlainRequest takes it
}{
	{"post", "POST /bench?a=1&b=%20 HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 5\r\nAccept-Encoding: gzip\r\n\r\nhello", true},
	{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"odd-case and repeated keys", "GET /x HTTP/1.1\r\nhost: a\r\nx-a: 1\r\nX-A: 2\r\nX-Empty:\r\nx-tapline-principal: z\r\n\r\n", true},
	{"close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", true},
	{"close, non-ASCII fold", "GET / HTTP/1.1\r\nHost: a\r\nConnection: clo\u017fe\r\n\r\n", true},
	{"http/1.0", "GET / HTTP/1.0\r\n\r\n", true},
	{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	{"absolute form", "GET http://example.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n", true},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"bare line feeds", "GET / HTTP/1.1\nHost: a\n\n", true},
	{"zero length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", true},
	{"truncated body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc", true},
	{"pipelined", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", true},
	{"pragma", "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", false},
	{"bad name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", false},
	{"bad method", "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"relative target", "GET x HTTP/1.1\r\nHost: a\r\n\r\n", false},
	{"two lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx", false},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
	{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false},
	{"no head end", "GET / HTTP/1.1\r\nHost: a\r\n", false},
}

// TestPlainRequestMatchesReadRequest: every request readPlainRequest takes
// reads exactly as http.ReadRequest reads it, and what it does not take is
// left unread.
func TestPlainRequestMatchesReadRequest(t *testing.T) {
	hb := &headerBuf{reuse: true} // one connection's, as on the HTTP/1.1 loop
	for _, tc := range plainRequests {
		t.Run(tc.name, func(t *testing.T) {
			took, msg := comparePlainRequest(tc.raw, hb)
			require.Empty(t, msg)
			require.Equal(t, tc.plain, took)
		})
	}
}

func FuzzPlainRequest(f *testing.F) {
	for _, tc := range plainRequests {
		f.Add(tc.raw)
	}
	hb := &headerBuf{reuse: true}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, msg := comparePlainRequest(raw, hb); msg != "" {
			t.Fatal(msg)
		}
	})
}

// comparePlainRequest reads raw with both readers; msg says how they differ
// ("" when they agree).
func comparePlainRequest(raw string, hb *headerBuf) (took bool, msg string) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	_, _ = br.Peek(1) // the HTTP/1.1 loop has the head in the buffer
	got, ok := readPlainRequest(br, hb)
	if !ok {
		if rest, _ := io.ReadAll(br); string(rest) != raw {
			return false, "consumed bytes it did not take"
		}
		return false, ""
	}
	wbr := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	want, err := http.ReadRequest(wbr)
	if err != nil {
		return true, "taken, but http.ReadRequest refuses it: " + err.Error()
	}
	switch {
	case got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String():
		return true, "method or target differs"
	case *got.URL != *want.URL:
		return true, "parsed URL differs"
	case got.Proto != want.Proto || got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor:
		return true, "proto differs"
	case got.Host != want.Host || got.ContentLength != want.ContentLength || got.Close != want.Close:
		return true, "host, length or close differs"
	case len(want.TransferEncoding) > 0 || len(want.Trailer) > 0:
		return true, "taken, but it has a transfer encoding or trailers"
	case !sameHeader(got.Header, want.Header):
		return true, "headers differ"
	case (got.Body == http.NoBody) != (want.Body == http.NoBody):
		return true, "one body is NoBody, the other not"
	}
	return true, compareRest(got.Body, want.Body, br, wbr, "request")
}
