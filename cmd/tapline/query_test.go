package main

import (
	"bufio"
	"encoding/json"
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
)

// TestQueryCommand runs `tapline query` on a fresh data directory: the REST
// API and its OpenAPI document answer on the HTTP port, callers need a
// token, and SIGTERM stops it cleanly.
func TestQueryCommand(t *testing.T) {
	requireCHDB(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`
http:
  addr: 127.0.0.1:0
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
	cmd := exec.Command(binary, "query", "--config", cfgFile, "--data-dir", filepath.Join(dir, "data"))
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	var (
		mu   sync.Mutex
		logs []string
	)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs = append(logs, sc.Text())
			mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "tapline query ready" {
				addr <- "http://" + rec["http"].(string)
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("tapline query not ready within 60 s: %s", strings.Join(logs, "\n"))
	}

	code, body, err := httpGet(base + "/api/v1/openapi.json")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"/api/v1/traces"`)

	code, _, err = httpGet(base + "/api/v1/services")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, code)

	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/services", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer ci-token-0123456789abcdef")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var services map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&services))
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, services, "services")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status after SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("tapline query did not stop within 30 s of SIGTERM")
	}
}
