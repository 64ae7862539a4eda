package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/proxytest"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestProxyCommand runs `tapline proxy` as a process with a configuration
// file: it serves mTLS requests, publishes their events to the configured
// bus, answers /readyz, and stops on SIGTERM.
func TestProxyCommand(t *testing.T) {
	b := bustest.Start(t, bustest.Config(), "")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Tapline-Principal"))
	}))
	defer up.Close()
	dir := t.TempDir()
	ca := proxytest.NewCA(t, "CA")
	srv := ca.ServerCert(t, "localhost")
	cert := proxytest.WriteFile(t, dir, "server.pem", srv.CertPEM)
	key := proxytest.WriteFile(t, dir, "server-key.pem", srv.KeyPEM)
	clientCA := proxytest.WriteFile(t, dir, "ca.pem", ca.PEM)
	httpAddr, proxyAddr := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`log: {format: json}
http: {addr: %q}
bus: {url: %q}
proxy:
  listeners:
    - name: edge
      address: %q
      tls: {cert: %q, key: %q, client_ca: %q}
  upstreams:
    - {name: app, url: %q}
  routes:
    - {name: all, upstream: app}
`, httpAddr, b.Embedded().ClientURL(), proxyAddr, cert, key, clientCA, up.URL)
	file := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))

	cmd := exec.Command(binary, "proxy", "--config", file)
	cmd.Env = cleanEnv()
	cmd.Dir = dir
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	require.Eventually(t, func() bool {
		code, _, err := httpGet("http://" + httpAddr + "/readyz")
		return err == nil && code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "not ready: %s", stderr.String())

	client := ca.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: "spiffe://example.org/ns/a/sa/b"})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLS}}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + proxyAddr + "/hello")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "spiffe://example.org/ns/a/sa/b", string(body))

	r := proxytest.NewReader(b.JetStream())
	acc := r.Find(t, event.AccessEvent, 20*time.Second, func(rec proxytest.Record) bool { return rec.Str(event.AttrURLPath) == "/hello" })
	require.Equal(t, "edge", acc.Str(event.AttrListener))
	code, metrics, err := httpGet("http://" + httpAddr + "/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, metrics, `tapline_proxy_requests_total{decision="allow",listener="edge",route="all"} 1`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("tapline proxy did not stop within 30 s of SIGTERM")
	}
}

func TestProxyCommandNeedsRoutes(t *testing.T) {
	res := tapline(t, nil, "proxy")
	require.Equal(t, exitError, res.code)
	require.Contains(t, res.stderr, "proxy: no upstreams or routes configured")
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
