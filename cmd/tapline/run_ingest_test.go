package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// TestRunIngestsAndServesQueries: in `tapline run`, spans accepted over OTLP
// travel through JetStream and the ingest into the store, and the query API
// on the same process answers with them.
func TestRunIngestsAndServesQueries(t *testing.T) {
	requireCHDB(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`
log:
  format: json
query:
  grpc:
    listen: 127.0.0.1:0
  auth:
    tokens:
      - name: ci
        token: ci-token-0123456789abcdef
        role: viewer
`), 0o600))
	grpcAddr, natsAddr := freeAddr(t), freeAddr(t)
	p := startProcess(t, nil, "run", "--config", cfgFile, "--data-dir", filepath.Join(dir, "data"),
		"--http-addr", "127.0.0.1:0",
		"--set", "bus.embedded.listen="+natsAddr,
		"--set", "collector.otlp_grpc="+grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0",
		"--set", "collector.nginx_syslog=127.0.0.1:0")
	ready := p.waitLog(t, "tapline run ready")
	base := "http://" + ready["http"].(string)

	const service, n = "run-ingest-test", 12
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	var want []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("op-%02d", i)
		want = append(want, name)
		_, sp := tp.Tracer("run-test").Start(ctx, name)
		sp.End()
	}
	require.NoError(t, tp.Shutdown(ctx))

	var got []string
	require.Eventually(t, func() bool {
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1/services/"+service+"/operations", nil)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer ci-token-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Operations []struct {
				Name string `json:"name"`
			} `json:"operations"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		got = got[:0]
		for _, op := range body.Operations {
			got = append(got, op.Name)
		}
		sort.Strings(got)
		return len(got) == n
	}, 60*time.Second, 250*time.Millisecond, "operations of %s never reached %d: %v", service, n, got)
	require.Equal(t, want, got)
	p.stop(t)
}
