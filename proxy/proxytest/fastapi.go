package proxytest

import (
	"bufio"
	"context"
	"encoding/json"
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

	"github.com/tapline/tapline/testapps/fastapi"
)

// FastAPI is the FastAPI test application (testapps/fastapi/app.py) served
// by uvicorn on a loopback port.
type FastAPI struct {
	URL  string // http://127.0.0.1:port
	Addr string

	mu    sync.Mutex
	lines []map[string]any
}

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// findPython returns an interpreter that can import fastapi and uvicorn
// (looked up once per test binary: importing fastapi takes a while).
func findPython() (string, error) {
	pythonOnce.Do(func() { pythonPath, pythonErr = fastapi.Python() })
	return pythonPath, pythonErr
}

// RepoRoot returns the module's root directory (where go.mod is).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("proxytest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// StartFastAPI starts the test application and stops it when the test ends.
// Without a suitable Python it skips the test, unless CI is set, where it
// fails: `make test` installs the packages.
func StartFastAPI(t testing.TB) *FastAPI {
	t.Helper()
	py, err := findPython()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("proxytest: %v", err)
		}
		t.Skipf("proxytest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // the duplicate in f keeps the socket open for uvicorn

	app := &FastAPI{URL: "http://" + addr, Addr: addr}
	cmd := exec.Command(py, "-m", "uvicorn", "app:app",
		"--app-dir", filepath.Join(RepoRoot(t), "testapps", "fastapi"),
		"--fd", "3", "--ws", "wsproto", "--http", "h11", "--log-level", "warning", "--no-access-log")
	cmd.ExtraFiles = []*os.File{f}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("proxytest: start uvicorn: %v", err)
	}
	_ = f.Close()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				app.mu.Lock()
				app.lines = append(app.lines, m)
				app.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
		<-readDone
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, app.URL+"/healthz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return app
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("proxytest: uvicorn did not answer within 30s: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Logged returns the JSON lines the application logged so far.
func (a *FastAPI) Logged() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.lines...)
}

// Echo is the application's answer: what it received.
type Echo struct {
	Method      string              `json:"method"`
	Path        string              `json:"path"`
	Query       string              `json:"query"`
	HTTPVersion string              `json:"http_version"`
	Headers     map[string][]string `json:"headers"`
	BodyBytes   int                 `json:"body_bytes"`
	RequestID   string              `json:"request_id"`
	TraceID     string              `json:"trace_id"`
}

// Header returns the only value of a header the application received
// (names lower case), "" if absent; it fails the test if sent twice.
func (e Echo) Header(t testing.TB, name string) string {
	t.Helper()
	v := e.Headers[strings.ToLower(name)]
	if len(v) > 1 {
		t.Fatalf("header %s reached the application %d times: %q", name, len(v), v)
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
