package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// subprocess is a tapline subcommand running in the background with JSON
// logs, started by a test or a benchmark.
type subprocess struct {
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
	logs []map[string]any
}

func startProcess(t testing.TB, env []string, args ...string) *subprocess {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Dir = t.TempDir()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &subprocess{cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"msg": sc.Text()}
			}
			p.mu.Lock()
			p.logs = append(p.logs, rec)
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLog waits for a log record with message msg and returns it.
func (p *subprocess) waitLog(t testing.TB, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, rec := range p.logs {
			if rec["msg"] == msg {
				found = rec
				return true
			}
		}
		return false
	}, 60*time.Second, 20*time.Millisecond, "log %q; logs so far: %v", msg, p.logs)
	return found
}

func (p *subprocess) stop(t testing.TB) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status after SIGTERM; logs: %v", p.logs)
	case <-time.After(60 * time.Second):
		t.Fatal("process did not stop within 60 s of SIGTERM")
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// sendSpans sends n spans over OTLP/gRPC and returns once they were
// accepted, which for Tapline's collector means stored in JetStream.
func sendSpans(t *testing.T, grpcAddr string, n int) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	for i := 0; i < n; i++ {
		_, sp := tp.Tracer("cmd-test").Start(ctx, fmt.Sprintf("op-%d", i))
		sp.End()
	}
	require.NoError(t, tp.ForceFlush(ctx))
	require.NoError(t, tp.Shutdown(ctx))
}

func TestCollectorCommand(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)

	t.Run("built-in configuration", func(t *testing.T) {
		grpcAddr := freeAddr(t)
		p := startProcess(t, []string{"TAPLINE_BUS_URL=" + srv.URL()}, "collector",
			"--set", "http.addr=127.0.0.1:0", "--set", "log.format=json",
			"--set", "collector.otlp_grpc="+grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0",
			"--set", "collector.nginx_syslog=127.0.0.1:0")
		ready := p.waitLog(t, "tapline collector ready")
		sendSpans(t, grpcAddr, 25)
		_, spans := srv.CountSpans(t, bus.SubjectTraces)
		require.Equal(t, 25, spans)

		code, body, err := httpGet("http://" + ready["http"].(string) + "/metrics")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `otelcol_receiver_accepted_spans_total{receiver="otlp",transport="grpc"} 25`)
		require.Contains(t, body, "tapline_natsexporter_published_items_total")
		code, _, err = httpGet("http://" + ready["http"].(string) + "/readyz")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		p.stop(t)
	})

	t.Run("--config is the collector YAML", func(t *testing.T) {
		grpcAddr := freeAddr(t)
		file := filepath.Join(t.TempDir(), "otelcol.yaml")
		require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: GRPC
exporters:
  nats:
    url: ${tapline:nats_url}
    subjects:
      traces: tapline.events
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [nats]
`, "GRPC", grpcAddr)), 0o600))
		p := startProcess(t, []string{"TAPLINE_BUS_URL=" + srv.URL()}, "collector", "--config", file,
			"--set", "http.addr=127.0.0.1:0", "--set", "log.format=json")
		p.waitLog(t, "tapline collector ready")
		sendSpans(t, grpcAddr, 7)
		_, spans := srv.CountSpans(t, bus.SubjectEvents)
		require.Equal(t, 7, spans)
		p.stop(t)
	})

	t.Run("bad collector YAML", func(t *testing.T) {
		r := tapline(t, []string{"TAPLINE_BUS_URL=" + srv.URL()}, "collector", "--config", "yaml:exporters::nats::max_in_flight: 0",
			"--set", "http.addr=127.0.0.1:0")
		require.Equal(t, exitError, r.code)
		require.Contains(t, r.stderr, "max_in_flight must be > 0")
	})
}

// TestRunIncludesCollector: `tapline run` accepts OTLP and stores it in its
// embedded JetStream.
func TestRunIncludesCollector(t *testing.T) {
	requireCHDB(t)
	grpcAddr, natsAddr := freeAddr(t), freeAddr(t)
	p := startProcess(t, nil, "run", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--set", "bus.embedded.listen="+natsAddr, "--set", "log.format=json",
		"--set", "collector.otlp_grpc="+grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0",
		"--set", "collector.nginx_syslog=127.0.0.1:0", "--set", "query.grpc.listen=127.0.0.1:0")
	p.waitLog(t, "tapline run ready")
	sendSpans(t, grpcAddr, 12)
	_, spans := natsexportertest.CountSpansAt(t, "nats://"+natsAddr, bus.SubjectTraces)
	require.Equal(t, 12, spans)
	p.stop(t)
}
