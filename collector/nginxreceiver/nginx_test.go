package nginxreceiver

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/collector/nginxreceiver/nginxreceivertest"
	"github.com/tapline/tapline/event"
)

// upstream is the app behind Nginx: it answers "ok\n" and remembers the
// X-Request-ID each path came with.
type upstream struct {
	srv *httptest.Server
	ids sync.Map // path → X-Request-ID
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.ids.Store(r.URL.Path, r.Header.Get("X-Request-ID"))
		_, _ = io.WriteString(w, "ok\n")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// request is one request the test sends and what it knows about it.
type request struct {
	name        string
	tls         bool
	cert        *nginxreceivertest.Leaf
	traceparent string
	xRequestID  string
	wantStatus  int
	wantVerify  string

	path      string
	round     int
	localPort int
	state     *tls.ConnectionState
}

type pki struct {
	ca, other        *nginxreceivertest.CA
	server           *nginxreceivertest.Leaf
	client, stranger *nginxreceivertest.Leaf
}

func newPKI(t *testing.T) pki {
	ca := nginxreceivertest.NewCA(t, "Tapline Test CA")
	other := nginxreceivertest.NewCA(t, "Some Other CA")
	return pki{
		ca: ca, other: other, server: ca.Server(t),
		client:   ca.Client(t, pkix.Name{CommonName: "client-a", Organization: []string{"Tapline Test"}}, 0x1F2E3D4C),
		stranger: other.Client(t, pkix.Name{CommonName: "stranger"}, 77),
	}
}

func requests(p pki) []*request {
	return []*request{
		{name: "plain", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", xRequestID: "client-chosen-id", wantStatus: 200},
		{name: "tls-no-cert", tls: true, wantStatus: 200, wantVerify: "NONE"},
		{name: "tls-client-cert", tls: true, cert: p.client, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", wantStatus: 200, wantVerify: "SUCCESS"},
		// Nginx answers 400 itself when an optional certificate fails.
		{name: "tls-untrusted-cert", tls: true, cert: p.stranger, wantStatus: 400, wantVerify: "FAILED:unable to verify the first certificate"},
	}
}

func (r *request) send(t *testing.T, p pki, n *nginxreceivertest.Nginx, round int) {
	t.Helper()
	r.path, r.round = fmt.Sprintf("/%s/%d", r.name, round), round
	var mu sync.Mutex
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				r.localPort = c.LocalAddr().(*net.TCPAddr).Port
				mu.Unlock()
			}
			return c, err
		},
		TLSClientConfig: &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"},
	}
	defer tr.CloseIdleConnections()
	if r.cert != nil {
		// Send the certificate even when its CA is not among those Nginx
		// asks for (Go would otherwise send none).
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &r.cert.TLS, nil
		}
	}
	url := "http://" + n.HTTP + r.path + "?round=" + fmt.Sprint(round)
	if r.tls {
		url = "https://" + n.HTTPS + r.path + "?round=" + fmt.Sprint(round)
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "tapline-test/1")
	if r.traceparent != "" {
		req.Header.Set("traceparent", r.traceparent)
	}
	if r.xRequestID != "" {
		req.Header.Set("X-Request-ID", r.xRequestID)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err, r.name)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, r.wantStatus, resp.StatusCode, r.name)
	r.state = resp.TLS
}

var (
	hex32   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	seconds = regexp.MustCompile(`^\d+\.\d{3}$`)
)

// check compares one record with what the test knows of its request: the
// whole attribute set, with the values only Nginx knows checked by shape.
func (r *request) check(t *testing.T, u *upstream, rec accesslogtest.Record, node string) {
	t.Helper()
	got := rec.Attributes
	require.Equal(t, event.AccessEvent, rec.EventName, r.name)
	require.NotZero(t, rec.Timestamp, r.name)
	require.Equal(t, map[string]any{event.AttrServiceName: "nginx"}, rec.Resource)

	want := map[string]any{
		event.AttrSource:          event.SourceNginx,
		event.AttrHTTPMethod:      "GET",
		event.AttrServerAddress:   "127.0.0.1",
		event.AttrURLPath:         r.path,
		event.AttrURLQuery:        fmt.Sprintf("round=%d", r.round),
		event.AttrNetworkProtocol: "1.1",
		event.AttrHTTPStatus:      int64(r.wantStatus),
		event.AttrClientAddress:   "127.0.0.1",
		event.AttrClientPort:      int64(r.localPort),
		event.AttrUserAgent:       "tapline-test/1",
		event.AttrNode:            node,
		event.AttrPrincipalType:   event.PrincipalAnonymous,
	}

	// Values only Nginx knows: checked by shape, then taken over.
	id, _ := got[event.AttrRequestID].(string)
	require.Regexp(t, hex32, id, "$request_id")
	want[event.AttrRequestID] = id
	require.GreaterOrEqual(t, got[event.AttrDurationNanos], int64(0))
	want[event.AttrDurationNanos] = got[event.AttrDurationNanos]
	require.Greater(t, got[event.AttrHTTPRequestSize], int64(0))
	want[event.AttrHTTPRequestSize] = got[event.AttrHTTPRequestSize]
	raw, _ := got[event.AttrRaw].(string)
	require.True(t, json.Valid([]byte(raw)), "raw line is the JSON Nginx wrote")
	require.Contains(t, raw, id)
	want[event.AttrRaw] = raw

	if r.wantStatus == 200 {
		seen, ok := u.ids.Load(r.path)
		require.True(t, ok, "upstream saw %s", r.path)
		require.Equal(t, id, seen, "the request id forwarded upstream is the one logged")
		want[event.AttrHTTPResponseSize] = int64(len("ok\n"))
		want[event.AttrUpstreamAddress] = u.srv.Listener.Addr().String()
		want[event.AttrUpstreamStatus] = "200"
		require.Regexp(t, seconds, got[AttrUpstreamResponseTimeKey])
		want[AttrUpstreamResponseTimeKey] = got[AttrUpstreamResponseTimeKey]
	} else {
		require.Greater(t, got[event.AttrHTTPResponseSize], int64(0), "nginx's own error page")
		want[event.AttrHTTPResponseSize] = got[event.AttrHTTPResponseSize]
	}
	if r.xRequestID != "" {
		want[event.AttrIncomingRequestID] = r.xRequestID
	}
	if r.traceparent != "" {
		require.Equal(t, r.traceparent[3:35], rec.TraceID, r.name)
		require.Equal(t, r.traceparent[36:52], rec.SpanID, r.name)
	} else {
		require.Empty(t, rec.TraceID, r.name)
	}
	if r.tls {
		want[event.AttrURLScheme] = "https"
		want[event.AttrTLSProtocolVersion] = accesslog.TLSVersion(tls.VersionName(r.state.Version))
		want[event.AttrTLSCipher] = tls.CipherSuiteName(r.state.CipherSuite)
		want[event.AttrTLSResumed] = false
		want[event.AttrTLSServerName] = "localhost"
		want[event.AttrClientVerify] = r.wantVerify
		want[event.AttrMTLSVerified] = r.wantVerify == "SUCCESS"
		require.Equal(t, uint16(tls.VersionTLS13), r.state.Version)
	} else {
		want[event.AttrURLScheme] = "http"
	}
	if r.cert != nil {
		c := r.cert.Cert
		sum := sha1.Sum(c.Raw)
		want[event.AttrTLSClientSubject] = c.Subject.String()
		want[event.AttrTLSClientIssuer] = c.Issuer.String()
		want[event.AttrTLSClientSerial] = strings.ToUpper(c.SerialNumber.Text(16))
		want[event.AttrTLSClientNotAfter] = c.NotAfter.UTC().Format(time.RFC3339)
		want[event.AttrTLSClientHashSHA1] = strings.ToUpper(hex.EncodeToString(sum[:]))
		if r.wantVerify == "SUCCESS" {
			want[event.AttrPrincipal] = c.Subject.String()
			want[event.AttrPrincipalType] = event.PrincipalCert
		}
	}
	require.Equal(t, want, got, r.name)
}

// AttrUpstreamResponseTimeKey is event.AttrUpstreamRespTime.
const AttrUpstreamResponseTimeKey = event.AttrUpstreamRespTime

// TestRealNginx runs Debian's Nginx with the documented configuration and
// checks the events of real requests, through syslog (UDP) and through file
// tailing with a rotation (rename + nginx -s reopen) in the middle.
func TestRealNginx(t *testing.T) {
	nginxreceivertest.Binary(t)
	p := newPKI(t)
	u := newUpstream(t)

	syslogRcv, syslogSink := startReceiver(t, func(c *Config) { c.Syslog.UDP = "127.0.0.1:0" })
	fs := newFileSetup(t)
	appendTo(t, fs.path) // the file exists before Nginx opens it
	fileSink := new(consumertest.LogsSink)
	fileRcv, _ := fs.start(t, fs.config(), fileSink)

	n := nginxreceivertest.Start(t, nginxreceivertest.Options{
		SyslogAddr: syslogRcv.udp.addr().String(),
		AccessLog:  fs.path,
		Upstream:   u.srv.Listener.Addr().String(),
		CA:         p.ca, Server: p.server,
	})

	var sent []*request
	for _, r := range requests(p) {
		r.send(t, p, n, 1)
		sent = append(sent, r)
	}
	waitRecords(t, fileSink, len(sent))

	// Rotate: rename, then tell Nginx to reopen its logs.
	require.NoError(t, os.Rename(fs.path, fs.path+".1"))
	n.Reopen(t)
	require.Eventually(t, func() bool { _, err := os.Stat(fs.path); return err == nil }, 10*time.Second, 10*time.Millisecond,
		"nginx reopened %s", filepath.Base(fs.path))
	for _, r := range requests(p) {
		r.send(t, p, n, 2)
		sent = append(sent, r)
	}

	hostname, err := os.Hostname()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		sink *consumertest.LogsSink
		node string
	}{
		{"syslog", syslogSink, hostname},
		{"file", fileSink, "test-node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := waitRecords(t, tc.sink, len(sent))
			byPath := map[string]accesslogtest.Record{}
			for _, rec := range recs {
				path, _ := rec.Attributes[event.AttrURLPath].(string)
				require.NotContains(t, byPath, path, "each request once")
				byPath[path] = rec
			}
			for _, r := range sent {
				rec, ok := byPath[r.path]
				require.True(t, ok, "event for %s", r.path)
				r.check(t, u, rec, tc.node)
			}
		})
	}
	require.Equal(t, int64(1), fileRcv.stats.fileRotations.Load())
	require.Zero(t, syslogRcv.stats.partial.Load()+syslogRcv.stats.unparsed.Load())
	require.Zero(t, fileRcv.stats.partial.Load()+fileRcv.stats.unparsed.Load())
}

// TestDocsMatchTestConfig keeps docs/nginx.md and the configuration the
// test runs in step.
func TestDocsMatchTestConfig(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "nginx.md"))
	require.NoError(t, err)
	for _, want := range []string{
		accesslog.NginxLogFormat,
		"proxy_set_header X-Request-ID $request_id;",
		"access_log syslog:server=127.0.0.1:5514,tag=nginx tapline;",
		"ssl_verify_client optional;",
	} {
		require.Contains(t, string(doc), want)
	}
}
