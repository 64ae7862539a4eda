package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store/chdb"
)

// binary is the tapline binary built once for the tests that run it as a
// process.
var binary string

const testVersion = "v0.0.0-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tapline-cmd-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tapline")
	build := exec.Command("go", "build", "-o", binary,
		"-ldflags", "-X main.version="+testVersion+" -X main.commit=abc123", ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build tapline: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// requireCHDB skips a test when libchdb.so is missing, unless CI is set:
// `make test` installs it, so there a missing library is a failure.
func requireCHDB(t *testing.T) {
	t.Helper()
	path := chdb.DefaultLibPath()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("libchdb.so missing at %q under CI: run `make libchdb`", path)
		}
		t.Skipf("libchdb.so missing at %q: run `make libchdb` (set CI=true to fail instead)", path)
	}
}

// cleanEnv is the test process's environment without TAPLINE_ variables
// (except the library path), so that a developer's settings do not leak in.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TAPLINE_") && !strings.HasPrefix(kv, "TAPLINE_LIBCHDB=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

// tapline runs the binary to completion.
func tapline(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestVersion(t *testing.T) {
	r := tapline(t, nil, "version")
	require.Equal(t, 0, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "tapline "+testVersion+" (commit abc123, "), r.stdout)
}

func TestUsageAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(aFile, nil, 0o600))
	unknownKey := filepath.Join(dir, "unknown.yaml")
	require.NoError(t, os.WriteFile(unknownKey, []byte("http:\n  addr: 127.0.0.1:8080\n  port: 8080\n"), 0o600))

	tests := []struct {
		name    string
		env     []string
		args    []string
		code    int
		wantErr string
	}{
		{"no command", nil, nil, exitUsage, "a command is required"},
		{"unknown command", nil, []string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{"unknown flag", nil, []string{"run", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"extra argument", nil, []string{"version", "now"}, exitUsage, `unexpected argument "now"`},
		{"config needs a subcommand", nil, []string{"config"}, exitUsage, "a subcommand is required"},
		{"bad port flag", nil, []string{"run", "--data-dir", dir, "--http-addr", "127.0.0.1:99999"}, exitError,
			`http.addr: invalid port "99999"`},
		{"bad port env", []string{"TAPLINE_HTTP_ADDR=127.0.0.1:99999"}, []string{"run", "--data-dir", dir}, exitError,
			`http.addr: invalid port "99999"`},
		{"unknown key in file", nil, []string{"run", "--data-dir", dir, "--config", unknownKey}, exitError,
			`unknown.yaml:3: unknown key "http.port"`},
		{"config from TAPLINE_CONFIG", []string{"TAPLINE_CONFIG=" + unknownKey}, []string{"config", "print"}, exitError,
			`unknown key "http.port"`},
		{"missing config file", nil, []string{"run", "--config", filepath.Join(dir, "nope.yaml")}, exitError,
			"config file: open"},
		{"data dir is a file", nil, []string{"run", "--data-dir", aFile}, exitError, "data_dir: "},
		{"data dir under a file", nil, []string{"migrate", "--data-dir", filepath.Join(aFile, "sub")}, exitError, "not a directory"},
		{"unknown env key", []string{"TAPLINE_HTTP_PORT=1"}, []string{"config", "print"}, exitError,
			"TAPLINE_HTTP_PORT matches no configuration key"},
		{"unknown --set key", nil, []string{"config", "print", "--set", "store.dsn=x"}, exitError, `unknown key "store.dsn"`},
		{"several problems", nil, []string{"config", "print", "--set", "log.level=loud", "--set", "bus.stream.max_age=0s"}, exitError,
			`log.level: "loud" is not one of debug, info, warn, error; bus.stream.max_age: must be > 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tapline(t, tt.env, tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			assert.True(t, strings.HasPrefix(last, "tapline: "), last)
			assert.Contains(t, last, tt.wantErr)
			if tt.code == exitError {
				assert.Len(t, lines, 1, "one line on stderr: %q", r.stderr)
			}
		})
	}
}

func TestConfigPrint(t *testing.T) {
	r := tapline(t, []string{
		"TAPLINE_STORE_CLICKHOUSE_PASSWORD=hunter2",
		"TAPLINE_STORE_CLICKHOUSE_DSN=clickhouse://admin:dsnpass@ch:9000/",
		"TAPLINE_HTTP_ADDR=127.0.0.1:9999",
	}, "config", "print", "--set", "bus.stream.max_age=1h", "--data-dir", t.TempDir())
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "hunter2")
	assert.NotContains(t, r.stdout, "dsnpass")
	assert.Contains(t, r.stdout, "password: '[REDACTED]'")
	assert.Contains(t, r.stdout, "addr: 127.0.0.1:9999")
	assert.Contains(t, r.stdout, "max_age: 1h0m0s")

	keys := tapline(t, nil, "config", "keys")
	require.Equal(t, 0, keys.code, keys.stderr)
	assert.Regexp(t, `(?m)^http\.addr\s+TAPLINE_HTTP_ADDR$`, keys.stdout)
	assert.Regexp(t, `(?m)^store\.clickhouse\.dsn\s+TAPLINE_STORE_CLICKHOUSE_DSN$`, keys.stdout)
}

func TestMigratePrint(t *testing.T) {
	r := tapline(t, nil, "migrate", "--print")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "CREATE TABLE IF NOT EXISTS `tapline`.`otel_traces`")
	assert.Contains(t, r.stdout, "access_events")
	assert.NotContains(t, r.stdout, "ON CLUSTER")

	r = tapline(t, nil, "migrate", "--print", "--set", "store.engine=clickhouse",
		"--set", "store.clickhouse.dsn=clickhouse://ch:9000/", "--set", "store.schema.cluster=prod")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "ON CLUSTER 'prod'")
}

func TestMigrate(t *testing.T) {
	requireCHDB(t)
	dir := t.TempDir()
	first := tapline(t, nil, "migrate", "--data-dir", dir)
	require.Equal(t, 0, first.code, first.stderr)
	assert.Contains(t, first.stdout, "applied 0001_")
	second := tapline(t, nil, "migrate", "--data-dir", dir)
	require.Equal(t, 0, second.code, second.stderr)
	assert.Equal(t, "schema up to date (database tapline)\n", second.stdout)
}

// running is a `tapline run` process.
type running struct {
	cmd  *exec.Cmd
	done chan error

	mu      sync.Mutex
	httpURL string
	logs    []map[string]any
}

// startRun starts `tapline run` on free ports with JSON logs.
func startRun(t *testing.T, dataDir string, args ...string) *running {
	t.Helper()
	args = append([]string{"run", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--set", "bus.embedded.listen=127.0.0.1:0", "--set", "log.format=json",
		"--set", "collector.otlp_grpc=127.0.0.1:0", "--set", "collector.otlp_http=127.0.0.1:0",
		"--set", "collector.nginx_syslog=127.0.0.1:0"}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := &running{cmd: cmd, done: make(chan error, 1)}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		r.readLogs(stderr)
	}()
	go func() {
		<-logsDone
		r.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *running) readLogs(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			rec = map[string]any{"msg": sc.Text()}
		}
		r.mu.Lock()
		r.logs = append(r.logs, rec)
		if rec["msg"] == "tapline run ready" {
			r.httpURL = "http://" + rec["http"].(string)
		}
		r.mu.Unlock()
	}
}

func (r *running) url() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.httpURL
}

// logged returns the first log record with message msg.
func (r *running) logged(msg string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.logs {
		if rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url) //nolint:noctx // test
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitReady polls /readyz until it answers 200, for at most 30 s, and fails
// at once if the process exits.
func (r *running) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("tapline run exited before ready: %v; logs: %v", err, r.logs)
		case <-deadline:
			t.Fatalf("tapline run not ready within 30 s; logs: %v", r.logs)
		case <-tick.C:
			if u := r.url(); u != "" {
				if code, _, err := httpGet(u + "/readyz"); err == nil && code == http.StatusOK {
					return
				}
			}
		}
	}
}

// stop sends SIGTERM and requires exit status 0 within 30 s.
func (r *running) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-r.done:
		require.NoError(t, err, "exit status after SIGTERM; logs: %v", r.logs)
		assert.Equal(t, 0, r.cmd.ProcessState.ExitCode())
	case <-time.After(30 * time.Second):
		t.Fatal("tapline run did not stop within 30 s of SIGTERM")
	}
}

func TestRunStartsStopsAndRestarts(t *testing.T) {
	requireCHDB(t)
	dataDir := t.TempDir()

	first := startRun(t, dataDir)
	first.waitReady(t)
	code, body, err := httpGet(first.url() + "/healthz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body)
	code, body, err = httpGet(first.url() + "/metrics")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `tapline_build_info{commit="abc123",version="`+testVersion+`"} 1`)
	assert.Contains(t, body, "tapline_ready 1")
	assert.Contains(t, body, "go_goroutines")
	schemaLog := first.logged("schema ready")
	require.NotNil(t, schemaLog)
	assert.NotZero(t, schemaLog["applied"], "a fresh data dir gets the migrations")
	assert.Equal(t, "created", first.logged("bus ready")["stream_state"])
	first.stop(t)
	assert.NotNil(t, first.logged("tapline run stopped"))

	for _, sub := range []string{"nats", "clickhouse"} {
		assert.DirExists(t, filepath.Join(dataDir, sub))
	}

	// The same data dir again: the stream and the schema are already there.
	second := startRun(t, dataDir)
	second.waitReady(t)
	assert.Equal(t, float64(0), second.logged("schema ready")["applied"])
	assert.Equal(t, "unchanged", second.logged("bus ready")["stream_state"])
	second.stop(t)
}

func TestRunStopsOnSIGINTWhileStarting(t *testing.T) {
	requireCHDB(t)
	r := startRun(t, t.TempDir())
	// Interrupt as soon as the process logs its start, whatever it has reached.
	require.Eventually(t, func() bool { return r.logged("tapline run starting") != nil }, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-r.done:
		// A start cut short is a clean stop: undone, exit status 0.
		require.NoError(t, err, "logs: %v", r.logs)
		assert.Equal(t, 0, r.cmd.ProcessState.ExitCode())
	case <-time.After(30 * time.Second):
		t.Fatal("tapline run did not stop within 30 s of SIGINT")
	}
}

func TestRunPortInUse(t *testing.T) {
	requireCHDB(t)
	first := startRun(t, t.TempDir())
	first.waitReady(t)
	addr := strings.TrimPrefix(first.url(), "http://")
	r := tapline(t, nil, "run", "--data-dir", t.TempDir(), "--http-addr", addr, "--set", "bus.embedded.listen=127.0.0.1:0",
		"--set", "collector.otlp_grpc=127.0.0.1:0", "--set", "collector.otlp_http=127.0.0.1:0",
		"--set", "collector.nginx_syslog=127.0.0.1:0")
	assert.Equal(t, exitError, r.code)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	assert.Contains(t, lines[len(lines)-1], "http.addr: ")
	assert.Contains(t, lines[len(lines)-1], "address already in use")
	first.stop(t)
}
