package collector

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/collector/nginxreceiver/nginxreceivertest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/store"
)

// TestNginxToClickHouse runs Debian's Nginx with the documented
// configuration in front of the built-in collector configuration, the bus,
// ingest and the embedded ClickHouse, all real, and checks every column of
// the access_events rows of real requests: received over syslog (the
// built-in nginx receiver) and by tailing Nginx's log file (the same
// receiver with files added), with a rotation (rename + nginx -s reopen)
// between two rounds of requests.
func TestNginxToClickHouse(t *testing.T) {
	nginxreceivertest.Binary(t)
	eng := ingesttest.Engine(t)
	b := ingesttest.Bus(t)

	p := nginxreceivertest.NewPKI(t)
	u := nginxreceivertest.NewUpstream(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "tapline.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o644)) // exists before Nginx opens it

	// The built-in configuration, plus the file the receiver tails.
	syslogAddr := freeUDPAddr(t)
	reg := startTestCollector(t, Settings{
		ConfigURIs: []string{
			schemeTapline + ":" + docDefault,
			"yaml:receivers::nginx::files::include: [" + logPath + "]",
			"yaml:receivers::nginx::files::start_at: beginning",
			"yaml:receivers::nginx::files::poll_interval: 20ms",
			"yaml:receivers::nginx::storage_dir: " + filepath.Join(dir, "positions"),
			"yaml:receivers::nginx::node: file-node",
		},
		NATS:                NATS{URL: b.Embedded().ClientURL()},
		OTLPGRPCEndpoint:    "127.0.0.1:0", // not used here
		OTLPHTTPEndpoint:    "127.0.0.1:0",
		NginxSyslogEndpoint: syslogAddr,
	})
	startTestIngest(t, eng, b)

	n := nginxreceivertest.Start(t, nginxreceivertest.Options{
		SyslogAddr: syslogAddr,
		AccessLog:  logPath,
		Upstream:   u.Addr(),
		CA:         p.CA, Server: p.Server,
	})

	var sent []*nginxreceivertest.Request
	for _, r := range nginxreceivertest.Requests(p) {
		r.Send(t, p, n, 1)
		sent = append(sent, r)
	}
	waitRows(t, eng, "Node = 'file-node'", len(sent))

	require.NoError(t, os.Rename(logPath, logPath+".1"))
	n.Reopen(t)
	require.Eventually(t, func() bool { _, err := os.Stat(logPath); return err == nil }, 10*time.Second, 10*time.Millisecond,
		"nginx reopened its log")
	for _, r := range nginxreceivertest.Requests(p) {
		r.Send(t, p, n, 2)
		sent = append(sent, r)
	}
	waitRows(t, eng, "1", 2*len(sent))

	metrics := &testCollector{reg: reg}
	require.Equal(t, float64(2*len(sent)), metrics.metric(t, "tapline_nginx_lines_total", "result", "mapped"), "every line mapped whole")
	require.Equal(t, float64(2*len(sent)), metrics.metric(t, "tapline_nginx_lines_total"))
	require.Equal(t, float64(1), metrics.metric(t, "tapline_nginx_line_problems_total", "problem", "file_rotated"))
	require.Equal(t, float64(1), metrics.metric(t, "tapline_nginx_line_problems_total"), "no other problem")

	hostname, err := os.Hostname()
	require.NoError(t, err)
	rows := accessRows(t, eng)
	require.Len(t, rows, 2*len(sent), "each request once per transport")
	for _, tc := range []struct{ name, node string }{{"syslog", hostname}, {"file", "file-node"}} {
		t.Run(tc.name, func(t *testing.T) {
			byPath := map[string]map[string]any{}
			for _, row := range rows {
				if row["Node"] == tc.node {
					path := row["Path"].(string)
					require.NotContains(t, byPath, path, "each request once")
					byPath[path] = row
				}
			}
			require.Len(t, byPath, len(sent))
			for _, r := range sent {
				row, ok := byPath[r.Path]
				require.True(t, ok, "row for %s", r.Path)
				checkRow(t, r, u, row, tc.node)
			}
		})
	}
}

// startTestCollector starts a collector with set, stopped when the test
// ends, and returns the registry of its metrics.
func startTestCollector(t *testing.T, set Settings) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	set.Logger = slog.New(slog.DiscardHandler)
	set.Registerer = reg
	c, err := New(set)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.Shutdown(ctx))
	})
	return reg
}

// startTestIngest starts ingest from b into eng on a connection of its own,
// stopped when the test ends.
func startTestIngest(t *testing.T, eng store.Engine, b *bus.Bus) {
	t.Helper()
	cfg := ingest.Default()
	cfg.BatchSize = 20
	cfg.BatchTimeout = 50 * time.Millisecond
	cfg.LagInterval = 50 * time.Millisecond
	in, err := ingest.New(cfg, eng, ingesttest.Connect(t, b), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, in.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, in.Shutdown(ctx))
	})
}

// waitRows waits until access_events has n rows matching cond (test SQL).
func waitRows(t *testing.T, eng store.Engine, cond string, n int) {
	t.Helper()
	var got uint64
	require.Eventually(t, func() bool {
		c, err := ingesttest.CountWhere(context.Background(), eng, "access_events", cond)
		got = c
		return err == nil && c >= uint64(n)
	}, 60*time.Second, 20*time.Millisecond, "want %d access_events rows where %s", n, cond)
	require.Equal(t, uint64(n), got, "no more rows than requests")
}

// accessRows returns every access_events row, column name → value, without
// the time ingest stored it.
func accessRows(t *testing.T, eng store.Engine) []map[string]any {
	t.Helper()
	rows, err := eng.Query(context.Background(), "SELECT * EXCEPT (IngestTimestamp) FROM access_events", nil)
	require.NoError(t, err)
	defer rows.Close()
	cols := rows.Columns()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c.Name] = vals[i]
		}
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

var (
	hex32   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	seconds = regexp.MustCompile(`^\d+\.\d{3}$`)
)

// checkRow compares a whole access_events row with what the test knows of
// its request; the values only Nginx knows are checked by shape.
func checkRow(t *testing.T, r *nginxreceivertest.Request, u *nginxreceivertest.Upstream, got map[string]any, node string) {
	t.Helper()
	want := map[string]any{
		"Source":          event.SourceNginx,
		"ServiceName":     "nginx",
		"Node":            node,
		"TraceId":         "",
		"SpanId":          "",
		"Method":          "GET",
		"Scheme":          "http",
		"Host":            "127.0.0.1",
		"Path":            r.Path,
		"Query":           "round=" + strconv.Itoa(r.Round),
		"Route":           "",
		"Protocol":        "1.1",
		"Status":          uint16(r.WantStatus),
		"ClientAddress":   "127.0.0.1",
		"ClientPort":      uint16(r.LocalPort),
		"UpstreamAddress": "",
		"UpstreamStatus":  "",
		"UserAgent":       nginxreceivertest.UserAgent,
		"TlsVersion":      "",
		"TlsCipher":       "",
		"TlsResumed":      false,
		"TlsServerName":   "",
		"MtlsVerified":    false,
		"PeerSpiffeId":    "",
		"PeerSubject":     "",
		"PeerIssuer":      "",
		"PeerSerial":      "",
		"PeerNotAfter":    time.Unix(0, 0).UTC(),
		"PeerFingerprint": "", // Nginx gives SHA-1 only: kept in Attributes
		"Principal":       "",
		"PrincipalType":   event.PrincipalAnonymous,
		"JwtIssuer":       "",
		"JwtSubject":      "",
		"JwtAudience":     "",
		"JwtScopes":       []string{},
		"Decision":        "",
		"Policy":          "",
		"Reason":          "",
		"ConnectionId":    "",
	}
	attrs := map[string]string{"otel.scope.name": "github.com/tapline/tapline/collector/nginxreceiver"}

	// Values only Nginx knows: checked by shape, then taken over.
	id, _ := got["RequestId"].(string)
	require.Regexp(t, hex32, id, "$request_id")
	want["RequestId"] = id
	ts, _ := got["Timestamp"].(time.Time)
	require.False(t, ts.IsZero(), "Timestamp")
	want["Timestamp"] = ts
	want["Duration"] = got["Duration"]
	require.IsType(t, uint64(0), got["Duration"])
	require.Greater(t, got["RequestBytes"], uint64(0))
	want["RequestBytes"] = got["RequestBytes"]
	raw, _ := got["Raw"].(string)
	require.True(t, json.Valid([]byte(raw)), "Raw is the JSON line Nginx wrote: %q", raw)
	require.Contains(t, raw, `"request_id":"`+id+`"`)
	want["Raw"] = raw

	gotAttrs, _ := got["Attributes"].(map[string]string)
	if r.WantStatus == 200 {
		seen, ok := u.RequestID(r.Path)
		require.True(t, ok, "upstream saw %s", r.Path)
		require.Equal(t, id, seen, "the request id forwarded upstream is the one stored")
		want["ResponseBytes"] = uint64(len(nginxreceivertest.UpstreamBody))
		want["UpstreamAddress"] = u.Addr()
		want["UpstreamStatus"] = "200"
		require.Regexp(t, seconds, gotAttrs[event.AttrUpstreamRespTime])
		attrs[event.AttrUpstreamRespTime] = gotAttrs[event.AttrUpstreamRespTime]
	} else {
		require.Greater(t, got["ResponseBytes"], uint64(0), "nginx's own error page")
		want["ResponseBytes"] = got["ResponseBytes"]
	}
	if r.XRequestID != "" {
		attrs[event.AttrIncomingRequestID] = r.XRequestID
	}
	if r.Traceparent != "" {
		want["TraceId"] = r.Traceparent[3:35]
		want["SpanId"] = r.Traceparent[36:52]
	}
	if r.TLS {
		require.Equal(t, uint16(tls.VersionTLS13), r.State.Version)
		want["Scheme"] = "https"
		want["TlsVersion"] = accesslog.TLSVersion(tls.VersionName(r.State.Version))
		want["TlsCipher"] = tls.CipherSuiteName(r.State.CipherSuite)
		want["TlsServerName"] = "localhost"
		want["MtlsVerified"] = r.WantVerify == "SUCCESS"
		attrs[event.AttrClientVerify] = r.WantVerify
		if failure, ok := strings.CutPrefix(r.WantVerify, "FAILED:"); ok {
			// Refused by Nginx itself: a denial, with the reason.
			want["Decision"] = event.DecisionDeny
			want["Reason"] = accesslog.VerifyFailure(failure)
			require.Equal(t, event.TLSFailureUnknownCA, want["Reason"], "the untrusted certificate's reason")
		}
	}
	if r.Cert != nil {
		c := r.Cert.Cert
		sum := sha1.Sum(c.Raw)
		want["PeerSubject"] = c.Subject.String()
		want["PeerIssuer"] = c.Issuer.String()
		want["PeerSerial"] = strings.ToUpper(c.SerialNumber.Text(16))
		want["PeerNotAfter"] = c.NotAfter.UTC()
		attrs[event.AttrTLSClientHashSHA1] = strings.ToUpper(hex.EncodeToString(sum[:]))
		if r.WantVerify == "SUCCESS" {
			want["Principal"] = c.Subject.String()
			want["PrincipalType"] = event.PrincipalCert
		}
	}
	want["Attributes"] = attrs
	require.Equal(t, want, got, r.Name)
}
