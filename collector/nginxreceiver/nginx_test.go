package nginxreceiver

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/collector/nginxreceiver/nginxreceivertest"
	"github.com/tapline/tapline/event"
)

var (
	hex32   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	seconds = regexp.MustCompile(`^\d+\.\d{3}$`)
)

// check compares one record with what the test knows of its request: the
// whole attribute set, with the values only Nginx knows checked by shape.
func check(t *testing.T, r *nginxreceivertest.Request, u *nginxreceivertest.Upstream, rec accesslogtest.Record, node string) {
	t.Helper()
	got := rec.Attributes
	require.Equal(t, event.AccessEvent, rec.EventName, r.Name)
	require.NotZero(t, rec.Timestamp, r.Name)
	require.Equal(t, map[string]any{event.AttrServiceName: "nginx"}, rec.Resource)

	want := map[string]any{
		event.AttrSource:          event.SourceNginx,
		event.AttrHTTPMethod:      "GET",
		event.AttrServerAddress:   "127.0.0.1",
		event.AttrURLPath:         r.Path,
		event.AttrURLQuery:        fmt.Sprintf("round=%d", r.Round),
		event.AttrNetworkProtocol: "1.1",
		event.AttrHTTPStatus:      int64(r.WantStatus),
		event.AttrClientAddress:   "127.0.0.1",
		event.AttrClientPort:      int64(r.LocalPort),
		event.AttrUserAgent:       nginxreceivertest.UserAgent,
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

	if r.WantStatus == 200 {
		seen, ok := u.RequestID(r.Path)
		require.True(t, ok, "upstream saw %s", r.Path)
		require.Equal(t, id, seen, "the request id forwarded upstream is the one logged")
		want[event.AttrHTTPResponseSize] = int64(len(nginxreceivertest.UpstreamBody))
		want[event.AttrUpstreamAddress] = u.Addr()
		want[event.AttrUpstreamStatus] = "200"
		require.Regexp(t, seconds, got[AttrUpstreamResponseTimeKey])
		want[AttrUpstreamResponseTimeKey] = got[AttrUpstreamResponseTimeKey]
	} else {
		require.Greater(t, got[event.AttrHTTPResponseSize], int64(0), "nginx's own error page")
		want[event.AttrHTTPResponseSize] = got[event.AttrHTTPResponseSize]
	}
	if r.XRequestID != "" {
		want[event.AttrIncomingRequestID] = r.XRequestID
	}
	if r.Traceparent != "" {
		require.Equal(t, r.Traceparent[3:35], rec.TraceID, r.Name)
		require.Equal(t, r.Traceparent[36:52], rec.SpanID, r.Name)
	} else {
		require.Empty(t, rec.TraceID, r.Name)
	}
	if r.TLS {
		want[event.AttrURLScheme] = "https"
		want[event.AttrTLSProtocolVersion] = accesslog.TLSVersion(tls.VersionName(r.State.Version))
		want[event.AttrTLSCipher] = tls.CipherSuiteName(r.State.CipherSuite)
		want[event.AttrTLSResumed] = false
		want[event.AttrTLSServerName] = "localhost"
		want[event.AttrClientVerify] = r.WantVerify
		want[event.AttrMTLSVerified] = r.WantVerify == "SUCCESS"
		if failure, ok := strings.CutPrefix(r.WantVerify, "FAILED:"); ok {
			// Refused by Nginx itself: a denial, with the reason.
			want[event.AttrDecision] = event.DecisionDeny
			want[event.AttrReason] = accesslog.VerifyFailure(failure)
		}
		require.Equal(t, uint16(tls.VersionTLS13), r.State.Version)
	} else {
		want[event.AttrURLScheme] = "http"
	}
	if r.Cert != nil {
		c := r.Cert.Cert
		sum := sha1.Sum(c.Raw)
		want[event.AttrTLSClientSubject] = c.Subject.String()
		want[event.AttrTLSClientIssuer] = c.Issuer.String()
		want[event.AttrTLSClientSerial] = strings.ToUpper(c.SerialNumber.Text(16))
		want[event.AttrTLSClientNotAfter] = c.NotAfter.UTC().Format(time.RFC3339)
		want[event.AttrTLSClientHashSHA1] = strings.ToUpper(hex.EncodeToString(sum[:]))
		if r.WantVerify == "SUCCESS" {
			want[event.AttrPrincipal] = c.Subject.String()
			want[event.AttrPrincipalType] = event.PrincipalCert
		}
	}
	require.Equal(t, want, got, r.Name)
}

// AttrUpstreamResponseTimeKey is event.AttrUpstreamRespTime.
const AttrUpstreamResponseTimeKey = event.AttrUpstreamRespTime

// TestRealNginx runs Debian's Nginx with the documented configuration and
// checks the events of real requests, through syslog (UDP) and through file
// tailing with a rotation (rename + nginx -s reopen) in the middle.
func TestRealNginx(t *testing.T) {
	nginxreceivertest.Binary(t)
	p := nginxreceivertest.NewPKI(t)
	u := nginxreceivertest.NewUpstream(t)

	syslogRcv, syslogSink := startReceiver(t, func(c *Config) { c.Syslog.UDP = "127.0.0.1:0" })
	fs := newFileSetup(t)
	appendTo(t, fs.path) // the file exists before Nginx opens it
	fileSink := new(consumertest.LogsSink)
	fileRcv, _ := fs.start(t, fs.config(), fileSink)

	n := nginxreceivertest.Start(t, nginxreceivertest.Options{
		SyslogAddr: syslogRcv.udp.addr().String(),
		AccessLog:  fs.path,
		Upstream:   u.Addr(),
		CA:         p.CA, Server: p.Server,
	})

	var sent []*nginxreceivertest.Request
	for _, r := range nginxreceivertest.Requests(p) {
		r.Send(t, p, n, 1)
		sent = append(sent, r)
	}
	waitRecords(t, fileSink, len(sent))

	// Rotate: rename, then tell Nginx to reopen its logs.
	require.NoError(t, os.Rename(fs.path, fs.path+".1"))
	n.Reopen(t)
	require.Eventually(t, func() bool { _, err := os.Stat(fs.path); return err == nil }, 10*time.Second, 10*time.Millisecond,
		"nginx reopened %s", filepath.Base(fs.path))
	for _, r := range nginxreceivertest.Requests(p) {
		r.Send(t, p, n, 2)
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
				rec, ok := byPath[r.Path]
				require.True(t, ok, "event for %s", r.Path)
				check(t, r, u, rec, tc.node)
			}
		})
	}
	require.Equal(t, int64(1), fileRcv.stats.fileRotations.Load())
	require.Zero(t, syslogRcv.stats.partial.Load()+syslogRcv.stats.unparsed.Load())
	require.Zero(t, fileRcv.stats.partial.Load()+fileRcv.stats.unparsed.Load())
}
