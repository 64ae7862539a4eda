package nginxreceiver

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/event"
)

// startReceiver starts a receiver built by the factory, with the default
// configuration changed by edit, and stops it when the test ends.
func startReceiver(t *testing.T, edit func(*Config)) (*nginxReceiver, *consumertest.LogsSink) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Syslog.UDP = ""
	edit(cfg)
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	rcv, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	return rcv.(*nginxReceiver), sink
}

// waitRecords waits until the sink holds n records and returns them.
func waitRecords(t *testing.T, sink *consumertest.LogsSink, n int) []accesslogtest.Record {
	t.Helper()
	require.Eventually(t, func() bool { return sink.LogRecordCount() >= n }, 10*time.Second, 5*time.Millisecond,
		"want %d records", n)
	var out []accesslogtest.Record
	for _, ld := range sink.AllLogs() {
		out = append(out, accesslogtest.DumpLogs(ld)...)
	}
	require.Len(t, out, n)
	return out
}

func goodLine(id string) string {
	return fmt.Sprintf(`{"msec":"1772359200.000","request_id":"%s","remote_addr":"192.0.2.1","request_method":"GET","request_uri":"/ok","status":"200","request_time":"0.001"}`, id)
}

// brokenLines are the bad inputs every transport must survive, each
// followed by a good line that must come through.
var brokenLines = []struct {
	name   string
	line   string
	mapped bool
}{
	{"truncated json", goodLine("cut")[:60], true},
	{"binary garbage", "\x00\x01\x02\x03\xff\xfe\x7f binary", false},
	{"invalid utf-8", strings.Replace(goodLine("utf8"), "/ok", "/caf\xe9", 1), true},
	{"wrong types", `{"msec":"1772359200.000","request_id":"types","request_method":"GET","status":{"x":1},"remote_port":true}`, true},
}

func TestSyslogUDP(t *testing.T) {
	r, sink := startReceiver(t, func(c *Config) { c.Syslog.UDP = "127.0.0.1:0" })
	conn, err := net.Dial("udp", r.udp.addr().String())
	require.NoError(t, err)
	defer conn.Close()

	for i, b := range brokenLines {
		_, err := fmt.Fprintf(conn, "<190>Nov 23 09:00:00 web-%d nginx: %s", i, b.line)
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "<190>Nov 23 09:00:00 web-%d nginx: %s", i, goodLine(fmt.Sprint("good-", i)))
		require.NoError(t, err)
		// Keep the order: each pair is received before the next is sent.
		waitRecords(t, sink, 2*(i+1))
	}
	recs := waitRecords(t, sink, 2*len(brokenLines))
	for i, b := range brokenLines {
		bad, good := recs[2*i], recs[2*i+1]
		require.Equal(t, fmt.Sprintf("web-%d", i), good.Attributes[event.AttrNode], "host name from the syslog header")
		require.Equal(t, event.AccessEvent, good.EventName, "good line after %s", b.name)
		require.Equal(t, fmt.Sprint("good-", i), good.Attributes[event.AttrRequestID])
		require.Equal(t, "nginx", good.Resource[event.AttrServiceName])
		if b.mapped {
			require.Equal(t, event.AccessEvent, bad.EventName, b.name)
			require.NotEmpty(t, bad.Attributes[event.AttrRaw], b.name)
		} else {
			require.Empty(t, bad.EventName, b.name)
			require.NotEmpty(t, bad.Body, b.name)
		}
		if b.name != "invalid utf-8" { // replaced bytes are counted, not an error
			require.NotEmpty(t, bad.Attributes[event.AttrParseError], b.name)
		}
	}
	s := &r.stats
	require.Equal(t, int64(len(brokenLines)), s.mapped.Load()-1, "good lines plus the invalid utf-8 one")
	require.Equal(t, int64(2), s.partial.Load(), "truncated and wrong types")
	require.Equal(t, int64(1), s.unparsed.Load())
	require.Equal(t, int64(1), s.truncated.Load())
	require.Equal(t, int64(2), s.invalidUTF8.Load(), "the garbage and the invalid utf-8 line")
	require.Equal(t, int64(2), s.badFields.Load())
	require.Zero(t, s.dropped.Load())
}

func TestSyslogTCP(t *testing.T) {
	r, sink := startReceiver(t, func(c *Config) { c.Syslog.TCP = "127.0.0.1:0" })
	conn, err := net.Dial("tcp", r.tcp.addr().String())
	require.NoError(t, err)
	defer conn.Close()

	frame := func(line string) string {
		msg := "<190>1 2026-11-23T09:00:00Z relay nginx - - - " + line
		return fmt.Sprintf("%d %s", len(msg), msg)
	}
	// A megabyte-long line (a huge user agent), newline framed.
	huge := strings.Replace(goodLine("huge"), `"status"`, `"http_user_agent":"`+strings.Repeat("A", 1<<20)+`","status"`, 1)
	stream := frame(goodLine("t1")) +
		frame(brokenLines[0].line) +
		"<190>Nov 23 09:00:00 relay nginx: " + huge + "\n" +
		"<190>Nov 23 09:00:00 relay nginx: " + goodLine("t2") + "\n" +
		frame(brokenLines[1].line) + frame(goodLine("t3"))
	_, err = conn.Write([]byte(stream))
	require.NoError(t, err)

	recs := waitRecords(t, sink, 6)
	require.Equal(t, "t1", recs[0].Attributes[event.AttrRequestID])
	require.Equal(t, "json line cut short", recs[1].Attributes[event.AttrParseError])
	require.Equal(t, "huge", recs[2].Attributes[event.AttrRequestID], "fields before the cut kept")
	require.Equal(t, "json line cut short; "+errOversize, recs[2].Attributes[event.AttrParseError])
	header := "<190>Nov 23 09:00:00 relay nginx: "
	require.Equal(t, DefaultMaxLineBytes-len(header), len(recs[2].Attributes[event.AttrRaw].(string)), "frame cut at max_line_bytes")
	require.Equal(t, "t2", recs[3].Attributes[event.AttrRequestID])
	require.Empty(t, recs[4].EventName)
	require.Equal(t, "t3", recs[5].Attributes[event.AttrRequestID])
	require.Equal(t, int64(1), r.stats.oversize.Load())

	// A framing error closes that connection only.
	bad, err := net.Dial("tcp", r.tcp.addr().String())
	require.NoError(t, err)
	_, err = bad.Write([]byte("12x garbage"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.stats.frameErrors.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	_ = bad.Close()
	_, err = conn.Write([]byte(frame(goodLine("t4"))))
	require.NoError(t, err)
	recs = waitRecords(t, sink, 7)
	require.Equal(t, "t4", recs[6].Attributes[event.AttrRequestID])
}

func TestLifecycle(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Syslog.UDP, cfg.Syslog.TCP = "127.0.0.1:0", "127.0.0.1:0"
	for range 2 {
		rcv, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(Type), cfg, consumertest.NewNop())
		require.NoError(t, err)
		require.NoError(t, rcv.Shutdown(context.Background()), "shutdown before start")
		require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, rcv.Shutdown(context.Background()))
		require.NoError(t, rcv.Shutdown(context.Background()), "shutdown twice")
	}

	// A port in use: Start fails and undoes what it started.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cfg.Syslog.TCP = busy.Addr().String()
	rcv, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = rcv.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "syslog.tcp")
	require.NoError(t, rcv.Shutdown(context.Background()))
}

// TestDroppedWhenRefused checks that syslog lines the pipeline refuses are
// counted as dropped (syslog cannot resend them), and the receiver goes on.
func TestDroppedWhenRefused(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Syslog.UDP = "127.0.0.1:0"
	rcv, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(Type), cfg,
		consumertest.NewErr(fmt.Errorf("memory limit reached")))
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	r := rcv.(*nginxReceiver)
	conn, err := net.Dial("udp", r.udp.addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte(goodLine("x")))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.stats.dropped.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
}

func TestMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := receivertest.NewNopSettings(Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := createDefaultConfig().(*Config)
	cfg.Syslog.UDP = "127.0.0.1:0"
	sink := new(consumertest.LogsSink)
	rcv, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	conn, err := net.Dial("udp", rcv.(*nginxReceiver).udp.addr().String())
	require.NoError(t, err)
	defer conn.Close()
	for _, l := range []string{goodLine("a"), "garbage", goodLine("b")[:50]} {
		_, err = conn.Write([]byte(l))
		require.NoError(t, err)
	}
	waitRecords(t, sink, 3)

	// Lines are counted once the consumer returned, just after the sink
	// holds them.
	lines := func() map[string]int64 {
		m, err := tel.GetMetric("tapline.nginx.lines")
		require.NoError(t, err)
		got := map[string]int64{}
		for _, dp := range sumPoints(t, m) {
			v, _ := dp.Attributes.Value("result")
			got[v.AsString()] = dp.Value
		}
		return got
	}
	want := map[string]int64{"mapped": 1, "partial": 1, "unparsed": 1}
	require.Eventually(t, func() bool { return reflect.DeepEqual(lines(), want) }, 5*time.Second, 5*time.Millisecond,
		"tapline.nginx.lines: %v", lines())
	m, err := tel.GetMetric("otelcol_receiver_accepted_log_records")
	require.NoError(t, err)
	var accepted int64
	for _, dp := range sumPoints(t, m) {
		accepted += dp.Value
	}
	require.Equal(t, int64(3), accepted)
}
