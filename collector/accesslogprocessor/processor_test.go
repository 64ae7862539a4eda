package accesslogprocessor

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/event"
)

// run sends ld through a processor built by the factory and returns what
// came out.
func run(t *testing.T, cfg *Config, ld plog.Logs) plog.Logs {
	t.Helper()
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	require.Len(t, sink.AllLogs(), 1)
	return sink.AllLogs()[0]
}

func defaultConfig() *Config { return createDefaultConfig().(*Config) }

// linesAsLogs wraps lines the way a log agent (filelog, fluent-bit) ships
// them: one record per line, the line as a string body.
func linesAsLogs(t *testing.T, path string, resAttrs map[string]string) plog.Logs {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range resAttrs {
		rl.Resource().Attributes().PutStr(k, v)
	}
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.ReplaceAll(sc.Text(), `\x00\x01`, "\x00\x01")
		recs.AppendEmpty().Body().SetStr(line)
	}
	require.NoError(t, sc.Err())
	return ld
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
		in   func(t *testing.T) plog.Logs
	}{
		{
			name: "envoy_otel_als",
			cfg:  defaultConfig(),
			in: func(t *testing.T) plog.Logs {
				b, err := os.ReadFile(filepath.Join("testdata", "envoy", "otel_als.json"))
				require.NoError(t, err)
				ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(b)
				require.NoError(t, err)
				return ld
			},
		},
		{
			name: "istio_default_json",
			cfg:  defaultConfig(),
			in: func(t *testing.T) plog.Logs {
				ld := linesAsLogs(t, filepath.Join("testdata", "istio", "default.jsonl"), map[string]string{"k8s.pod.name": "reviews-v1-7d9f"})
				// The same first line once more, as an agent that parsed the JSON sends it.
				recs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
				m := recs.AppendEmpty().Body().SetEmptyMap()
				require.NoError(t, m.FromRaw(map[string]any{
					"start_time": "2026-03-01T10:05:00.042Z", "method": "GET", "path": "/reviews/0",
					"response_code": int64(200), "response_flags": "-", "duration": int64(4), "bytes_sent": int64(358),
					"upstream_cluster": "inbound|9080||", "request_id": "a3c2f0e1-7b6d-4c5e-9f8a-1b2c3d4e5f60",
					"x_forwarded_for": nil,
				}))
				return ld
			},
		},
		{
			name: "istio_broken",
			cfg:  defaultConfig(),
			in: func(t *testing.T) plog.Logs {
				// Hinted by the agent: a cut line is mapped as far as it goes.
				return linesAsLogs(t, filepath.Join("testdata", "istio", "broken.jsonl"), map[string]string{event.AttrSource: event.SourceMesh})
			},
		},
		{
			name: "nginx_hinted",
			cfg:  defaultConfig(),
			in: func(t *testing.T) plog.Logs {
				return linesAsLogs(t, filepath.Join("testdata", "nginx", "lines.txt"), map[string]string{event.AttrSource: event.SourceNginx})
			},
		},
		{
			name: "nginx_unhinted",
			cfg:  defaultConfig(),
			in: func(t *testing.T) plog.Logs {
				// Without a hint only the JSON line is recognised; the
				// combined and garbage lines pass as app logs.
				return linesAsLogs(t, filepath.Join("testdata", "nginx", "lines.txt"), nil)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := run(t, tt.cfg, tt.in(t))
			accesslogtest.Golden(t, filepath.Join("testdata", "golden", tt.name+".json"), accesslogtest.DumpLogs(out))
		})
	}
}

// TestPassThrough checks that records the processor does not recognise come
// out exactly as they went in.
func TestPassThrough(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "orders")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	recs.AppendEmpty().Body().SetStr(`{"level":"info","method":"GET","path":"/x","status":200}`)
	r := recs.AppendEmpty()
	r.Body().SetStr("hello")
	r.Attributes().PutStr("method", "GET")
	r.Attributes().PutStr("path", "/x")
	already := recs.AppendEmpty()
	already.SetEventName(event.TLSEvent)
	already.Attributes().PutStr(event.AttrSource, event.SourceNginx)
	already.Body().SetStr(`{"msec":"1","request_id":"r","remote_addr":"x","request_method":"GET"}`)
	want := plog.NewLogs()
	ld.CopyTo(want)

	out := run(t, defaultConfig(), ld)
	require.Equal(t, accesslogtest.DumpLogs(want), accesslogtest.DumpLogs(out))
}

func TestEnvoyLogNames(t *testing.T) {
	in := func() plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("log_name", "other")
		r := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		r.Attributes().PutStr("method", "GET")
		r.Attributes().PutStr("response_code", "200")
		return ld
	}
	cfg := defaultConfig()
	out := run(t, cfg, in())
	require.Equal(t, event.AccessEvent, out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).EventName())

	cfg.EnvoyLogNames = []string{"otel_envoy_accesslog"}
	out = run(t, cfg, in())
	require.Empty(t, out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).EventName(), "log_name not listed")
}

func TestLifecycleTwice(t *testing.T) {
	f := NewFactory()
	for range 2 {
		p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(Type), f.CreateDefaultConfig(), consumertest.NewNop())
		require.NoError(t, err)
		require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, p.Shutdown(context.Background()))
		require.NoError(t, p.Shutdown(context.Background()))
	}
	var _ processor.Factory = f
}

func TestMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := processortest.NewNopSettings(Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, defaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	ld := linesAsLogs(t, filepath.Join("testdata", "nginx", "lines.txt"), map[string]string{event.AttrSource: event.SourceNginx})
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	m, err := tel.GetMetric("tapline.accesslog.records")
	require.NoError(t, err)
	got := map[string]int64{}
	for _, dp := range sumPoints(t, m) {
		src, _ := dp.Attributes.Value("source")
		out, _ := dp.Attributes.Value("outcome")
		got[src.AsString()+"/"+out.AsString()] = dp.Value
	}
	require.Equal(t, map[string]int64{"nginx/mapped": 2, "nginx/failed": 1}, got)
}

// TestNginxMapBody: an agent that parsed the JSON line sends a map body; it
// is mapped by the same code path, rendered back to JSON.
func TestNginxMapBody(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Attributes().PutStr(event.AttrSource, event.SourceNginx)
	require.NoError(t, rec.Body().SetEmptyMap().FromRaw(map[string]any{
		"msec": "1772359800.000", "request_id": "map-1", "remote_addr": "192.0.2.9",
		"request_method": "PUT", "request_uri": "/x?y=1", "status": int64(204), "ssl_protocol": "TLSv1.3",
	}))
	out := run(t, defaultConfig(), ld)
	got := accesslogtest.DumpLogs(out)
	require.Len(t, got, 1)
	require.Equal(t, event.AccessEvent, got[0].EventName)
	require.Nil(t, got[0].Body)
	a := got[0].Attributes
	require.Equal(t, "map-1", a[event.AttrRequestID])
	require.Equal(t, "PUT", a[event.AttrHTTPMethod])
	require.Equal(t, "/x", a[event.AttrURLPath])
	require.Equal(t, int64(204), a[event.AttrHTTPStatus])
	require.Equal(t, "1.3", a[event.AttrTLSProtocolVersion])
}
