package collector

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// records decodes every message on subject into its log records.
func records(t *testing.T, srv *natsexportertest.Server, subject string) []plog.LogRecord {
	t.Helper()
	var out []plog.LogRecord
	for _, m := range srv.Messages(t, subject) {
		req := plogotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalProto(m.Data))
		rls := req.Logs().ResourceLogs()
		for i := range rls.Len() {
			sls := rls.At(i).ScopeLogs()
			for j := range sls.Len() {
				recs := sls.At(j).LogRecords()
				for k := range recs.Len() {
					out = append(out, recs.At(k))
				}
			}
		}
	}
	return out
}

// TestBuiltInNginxSyslog: Nginx lines sent over syslog (UDP) to the built-in
// configuration reach the bus as access events; a line that is not an
// access-log line goes to the application logs, not lost.
func TestBuiltInNginxSyslog(t *testing.T) {
	addr := freeUDPAddr(t)
	tc := startCollector(t, natsexportertest.Options{}, func(s *Settings) { s.NginxSyslogEndpoint = addr })

	f, err := os.Open(filepath.Join("accesslogprocessor", "testdata", "nginx", "lines.txt"))
	require.NoError(t, err)
	defer f.Close()
	conn, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer conn.Close()
	var lines int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		// What Nginx's "access_log syslog:server=...,tag=nginx" sends.
		_, err := conn.Write(append([]byte("<190>Nov 23 09:00:00 web-1 nginx: "), sc.Bytes()...))
		require.NoError(t, err)
		lines++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 3, lines, "a JSON line, a combined line, garbage")

	require.Eventually(t, func() bool {
		_, events := tc.nats.CountLogRecords(t, bus.SubjectEvents)
		_, logs := tc.nats.CountLogRecords(t, bus.SubjectLogs)
		return events == 2 && logs == 1
	}, 30*time.Second, 20*time.Millisecond)

	ids := map[string]bool{}
	for _, rec := range records(t, tc.nats, bus.SubjectEvents) {
		require.Equal(t, event.AccessEvent, rec.EventName())
		src, _ := rec.Attributes().Get(event.AttrSource)
		require.Equal(t, event.SourceNginx, src.Str())
		node, _ := rec.Attributes().Get(event.AttrNode)
		require.Equal(t, "web-1", node.Str(), "the syslog sender's host name")
		id, _ := rec.Attributes().Get(event.AttrRequestID)
		ids[id.Str()] = true
	}
	require.Equal(t, map[string]bool{"7e57d004e7f04b5a9a1e4c7c1c6d2f3a": true, "": true}, ids,
		"the JSON line's request id; the combined line has none")
	garbage := records(t, tc.nats, bus.SubjectLogs)[0]
	_, hasErr := garbage.Attributes().Get(event.AttrParseError)
	require.True(t, hasErr, "unparsed line kept with its parse error")
}

// TestBuiltInEnvoyOTLP: Envoy's OpenTelemetry access logger sending OTLP
// logs to the built-in configuration gets its records mapped to access
// events by the accesslog processor of the logs pipeline.
func TestBuiltInEnvoyOTLP(t *testing.T) {
	tc := startCollector(t, natsexportertest.Options{})
	payload, err := os.ReadFile(filepath.Join("accesslogprocessor", "testdata", "envoy", "otel_als.json"))
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(payload)
	require.NoError(t, err)
	// Records of Envoy's logger (its resource has log_name) become events;
	// the payload's application logs stay logs.
	var wantEvents, wantLogs int
	for i := range ld.ResourceLogs().Len() {
		rl := ld.ResourceLogs().At(i)
		n := 0
		for j := range rl.ScopeLogs().Len() {
			n += rl.ScopeLogs().At(j).LogRecords().Len()
		}
		if _, envoy := rl.Resource().Attributes().Get("log_name"); envoy {
			wantEvents += n
		} else {
			wantLogs += n
		}
	}
	require.Positive(t, wantEvents)
	require.Positive(t, wantLogs)

	resp, err := http.Post("http://"+tc.httpAddr+"/v1/logs", "application/json", bytes.NewReader(payload))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, events := tc.nats.CountLogRecords(t, bus.SubjectEvents)
	require.Equal(t, wantEvents, events, "stored before the client got its answer")
	_, logs := tc.nats.CountLogRecords(t, bus.SubjectLogs)
	require.Equal(t, wantLogs, logs)
	for _, rec := range records(t, tc.nats, bus.SubjectEvents) {
		require.Equal(t, event.AccessEvent, rec.EventName())
		src, _ := rec.Attributes().Get(event.AttrSource)
		require.Equal(t, event.SourceMesh, src.Str())
	}
}
