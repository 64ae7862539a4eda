package collector

import (
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// telemetrygen finds the telemetrygen binary (`make telemetrygen` installs
// it). Without it the test is skipped, unless CI is set: then it fails.
func telemetrygen(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("telemetrygen"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "telemetrygen")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("telemetrygen not found on PATH or in GOPATH/bin; run make telemetrygen")
	}
	t.Skip("telemetrygen not installed (make telemetrygen); skipped because CI is not set")
	return ""
}

func runTelemetrygen(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	require.NoError(t, err, "telemetrygen %v:\n%s", args, out)
}

// TestTelemetrygen sends traces and logs with telemetrygen over gRPC and
// HTTP; every span and log record arrives in JetStream exactly once.
func TestTelemetrygen(t *testing.T) {
	bin := telemetrygen(t)
	tc := startCollector(t, natsexportertest.Options{})
	const traces, children, logs = 100, 2, 70

	runTelemetrygen(t, bin, "traces", "--otlp-insecure", "--otlp-endpoint", tc.grpcAddr,
		"--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(children), "--rate", "0", "--workers", "1")
	runTelemetrygen(t, bin, "traces", "--otlp-http", "--otlp-insecure", "--otlp-endpoint", tc.httpAddr,
		"--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(children), "--rate", "0", "--workers", "1")
	runTelemetrygen(t, bin, "logs", "--otlp-insecure", "--otlp-endpoint", tc.grpcAddr,
		"--logs", strconv.Itoa(logs), "--rate", "0", "--workers", "1")
	runTelemetrygen(t, bin, "logs", "--otlp-http", "--otlp-insecure", "--otlp-endpoint", tc.httpAddr,
		"--logs", strconv.Itoa(logs), "--rate", "0", "--workers", "1")

	_, spans := tc.nats.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 2*traces*(1+children), spans)
	_, records := tc.nats.CountLogRecords(t, bus.SubjectLogs)
	require.Equal(t, 2*logs, records)
	require.EqualValues(t, spans, tc.metric(t, "otelcol_receiver_accepted_spans_total"))
}
