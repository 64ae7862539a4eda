package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tapline/tapline/demo/apphop"
	"github.com/tapline/tapline/demo/pki"
	"github.com/tapline/tapline/demo/telemetry"
	"github.com/tapline/tapline/demo/traffic"
)

// Ports are the listen addresses (host:port) of the stack.
type Ports struct {
	HTTP      string // UI, REST API, /readyz
	QueryGRPC string // gRPC query API
	OTLPGRPC  string
	OTLPHTTP  string
	NATS      string // embedded NATS
	Syslog    string // Nginx syslog receiver (UDP)
	Proxy     string // proxy tap
	Nginx     string // Nginx's public TLS server
	App       string // the FastAPI application
}

// DefaultPorts are the addresses of `tapline demo`: Tapline's defaults, the
// application on 8000 and Nginx on 9443.
func DefaultPorts() Ports {
	return Ports{
		HTTP: "127.0.0.1:8080", QueryGRPC: "127.0.0.1:8081",
		OTLPGRPC: "127.0.0.1:4317", OTLPHTTP: "127.0.0.1:4318",
		NATS: "127.0.0.1:4222", Syslog: "127.0.0.1:5514",
		Proxy: "127.0.0.1:8443", Nginx: "127.0.0.1:9443", App: "127.0.0.1:8000",
	}
}

// FreePorts picks free loopback ports for every listener (for tests).
func FreePorts() (Ports, error) {
	var p Ports
	for _, addr := range []*string{&p.HTTP, &p.QueryGRPC, &p.OTLPGRPC, &p.OTLPHTTP, &p.NATS, &p.Proxy, &p.Nginx, &p.App} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("free port: %w", err)
		}
		*addr = l.Addr().String()
		defer l.Close()
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return Ports{}, fmt.Errorf("free port: %w", err)
	}
	p.Syslog = c.LocalAddr().String()
	defer c.Close()
	return p, nil
}

// Options configure Start.
type Options struct {
	// Dir holds everything of the demo: certificates (tls/), the written
	// configuration, Tapline's data (data/), Nginx's prefix (nginx/) and
	// the processes' logs (logs/). Certificates and data are kept for the
	// next run.
	Dir string
	// Tapline is the tapline binary to run.
	Tapline string
	// Root is the repository root, where testapps/fastapi and demo/app
	// are; default the working directory.
	Root string
	// Ports; zero means DefaultPorts.
	Ports Ports
	// Env is the environment of the processes; nil means os.Environ().
	Env []string
	// Logger reports progress; nil discards it.
	Logger *slog.Logger
	// AppOutput receives the application's own log lines (nil: its log file).
	AppOutput io.Writer
}

// Stack is the running demo.
type Stack struct {
	// UIURL is the UI (and REST API under /api/v1) base URL.
	UIURL string
	// Token signs in to the UI and the API (admin role).
	Token string
	// NginxURL and ProxyURL are the base URLs of the public edge and the tap.
	NginxURL string
	ProxyURL string
	// OTLPHTTP is the collector's OTLP/HTTP endpoint (host:port).
	OTLPHTTP string
	// Certs is the certificate directory.
	Certs pki.Dir
	// Dir is Options.Dir, absolute.
	Dir string

	logger    *slog.Logger
	procs     []*proc // in start order
	providers *telemetry.Providers
	relayDone chan struct{}

	failed   chan struct{}
	failOnce sync.Once
	failErr  error
	stopped  chan struct{} // closed when Stop begins
	stopOnce sync.Once
	stopErr  error
}

// Start brings the stack up and returns once Tapline is ready and Nginx
// listens. On failure everything started is stopped again.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Ports == (Ports{}) {
		o.Ports = DefaultPorts()
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Root == "" {
		o.Root = "."
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, fmt.Errorf("repository root: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	s := &Stack{
		Dir: dir, Certs: pki.Dir(filepath.Join(dir, "tls")), logger: o.Logger,
		UIURL: "http://" + o.Ports.HTTP, NginxURL: "https://" + o.Ports.Nginx, ProxyURL: "https://" + o.Ports.Proxy,
		OTLPHTTP: o.Ports.OTLPHTTP, failed: make(chan struct{}), stopped: make(chan struct{}),
	}
	if err := s.start(ctx, o, root); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return nil, errors.Join(err, s.Stop(sctx))
	}
	go s.watch()
	return s, nil
}

func (s *Stack) start(ctx context.Context, o Options, root string) error {
	made, err := pki.Ensure(string(s.Certs), nil, time.Now())
	if err != nil {
		return err
	}
	if made {
		s.logger.Info("certificates made", "dir", string(s.Certs))
	}
	s.Token, err = randomToken()
	if err != nil {
		return err
	}

	// The application, its hop lines relayed as spans and access events.
	if err := s.startApp(ctx, o, root); err != nil {
		return err
	}

	// Tapline, all in one.
	cfg, err := taplineConfig(s.Certs, o.Ports.Proxy, "http://"+o.Ports.App, s.Token)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(s.Dir, "tapline.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	run := exec.Command(o.Tapline, "run", "--config", cfgPath, "--data-dir", filepath.Join(s.Dir, "data"),
		"--set", "http.addr="+o.Ports.HTTP,
		"--set", "query.grpc.listen="+o.Ports.QueryGRPC,
		"--set", "collector.otlp_grpc="+o.Ports.OTLPGRPC,
		"--set", "collector.otlp_http="+o.Ports.OTLPHTTP,
		"--set", "collector.nginx_syslog="+o.Ports.Syslog,
		"--set", "bus.embedded.listen="+o.Ports.NATS,
		"--set", "compliance.ui_base_url="+s.UIURL,
	)
	run.Env = o.Env
	p, err := startProc(s.Dir, "tapline", run, sigTerm, 30*time.Second)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	s.logger.Info("tapline run started, waiting until ready", "http", o.Ports.HTTP)
	if err := waitHTTP(ctx, s.UIURL+"/readyz", p, 3*time.Minute); err != nil {
		return fmt.Errorf("tapline run: %w\n%s", err, p.tail(4000))
	}

	// Nginx in front of the tap.
	return s.startNginx(ctx, o)
}

// startApp starts uvicorn with the demo application and the relay of its
// hop lines.
func (s *Stack) startApp(ctx context.Context, o Options, root string) error {
	py, err := Python()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(o.Ports.App)
	if err != nil {
		return fmt.Errorf("application address: %w", err)
	}
	cmd := exec.Command(py, "-m", "uvicorn", "demo_app:app",
		"--app-dir", filepath.Join(root, "demo", "app"),
		"--host", host, "--port", port, "--ws", "wsproto", "--http", "h11",
		"--log-level", "warning", "--no-access-log")
	// The application's own directory on the import path; no bytecode
	// files written into the repository.
	cmd.Env = append(withoutEnv(o.Env, "PYTHONPATH"),
		"PYTHONPATH="+filepath.Join(root, "testapps", "fastapi"), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("application: %w", err)
	}
	// uvicorn waits for idle keep-alive connections (the tap's) before it
	// exits, and this version has no limit for that: the grace period is it.
	p, err := startProc(s.Dir, "app", cmd, sigTerm, 3*time.Second)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)

	s.providers, err = telemetry.New(ctx, o.Ports.OTLPHTTP, "orders")
	if err != nil {
		return err
	}
	relay := apphop.New(s.providers, "app-1")
	relay.Skip = func(h apphop.Hop) bool { return h.Path == "/healthz" } // the stack's own probes
	appLog := o.AppOutput
	if appLog == nil {
		appLog = p.cmd.Stderr
	}
	s.relayDone = make(chan struct{})
	go func() {
		defer close(s.relayDone)
		_ = relay.Consume(context.Background(), out, appLog)
	}()
	if err := waitHTTP(ctx, "http://"+o.Ports.App+"/healthz", p, time.Minute); err != nil {
		return fmt.Errorf("application: %w\n%s", err, p.tail(4000))
	}
	return nil
}

// startNginx renders the template and runs Nginx under DIR/nginx.
func (s *Stack) startNginx(ctx context.Context, o Options) error {
	bin, err := Nginx()
	if err != nil {
		return err
	}
	prefix := filepath.Join(s.Dir, "nginx")
	for _, d := range []string{"conf.d", "logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o750); err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
	}
	tmpl, err := ConfigFile(NginxTemplateFile)
	if err != nil {
		return err
	}
	conf, err := RenderTemplate(string(tmpl), map[string]string{
		"NGINX_LISTEN":      o.Ports.Nginx,
		"NGINX_SERVER_NAME": "localhost",
		"NGINX_TLS_DIR":     string(s.Certs),
		"PROXY_ADDR":        o.Ports.Proxy,
		"PROXY_SERVER_NAME": "localhost",
		"SYSLOG_ADDR":       o.Ports.Syslog,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(prefix, "conf.d", "tapline.conf"), []byte(conf), 0o640); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	main := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(main, []byte(nginxMain(prefix, os.Geteuid() == 0)), 0o640); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", main, "-e", filepath.Join(prefix, "logs", "error.log"))
	cmd.Env = o.Env
	p, err := startProc(s.Dir, "nginx", cmd, sigQuit, 10*time.Second)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	if err := waitListening(ctx, o.Ports.Nginx, p, 15*time.Second); err != nil {
		errLog, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
		return fmt.Errorf("nginx: %w\n%s%s", err, p.tail(2000), errLog)
	}
	return nil
}

// nginxMain is the main nginx.conf around the rendered template, which
// belongs in the http context (conf.d, as in the official image).
func nginxMain(prefix string, root bool) string {
	var b strings.Builder
	if root {
		// Workers would otherwise switch to nobody and could not read the keys.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, `worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
events { worker_connections 512; }
http {
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    include %[1]s/conf.d/*.conf;
}
`, prefix)
	return b.String()
}

// Traffic returns a traffic generator aimed at this stack, its client spans
// sent with sdk (nil: none).
func (s *Stack) Traffic(sdk *telemetry.Providers) *traffic.Generator {
	t := traffic.Target{Nginx: s.NginxURL, Proxy: s.ProxyURL}
	if sdk == nil {
		return traffic.New(s.Certs, t, nil)
	}
	return traffic.New(s.Certs, t, sdk.Traces)
}

// Failed is closed when a process of the stack exited on its own; Err then
// says which.
func (s *Stack) Failed() <-chan struct{} { return s.failed }

// Err is why the stack failed, nil while it runs.
func (s *Stack) Err() error {
	select {
	case <-s.failed:
		return s.failErr
	default:
		return nil
	}
}

func (s *Stack) watch() {
	for {
		for _, p := range s.procs {
			if p.unexpected() {
				s.failOnce.Do(func() {
					s.failErr = p.exitError()
					close(s.failed)
				})
				return
			}
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-s.stopped:
			return
		}
	}
}

// Stop stops Nginx, the application (flushing its relayed telemetry) and
// Tapline, in that order, each within ctx. It is safe to call twice.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.stopped)
		var errs []error
		for i := len(s.procs) - 1; i >= 0; i-- {
			p := s.procs[i]
			if p.name == "tapline" && s.providers != nil {
				// The application has stopped: send its last hops
				// while the collector still runs.
				if s.relayDone != nil {
					select {
					case <-s.relayDone:
					case <-ctx.Done():
					case <-time.After(5 * time.Second):
					}
				}
				errs = append(errs, s.providers.Shutdown(ctx))
				s.providers = nil
			}
			errs = append(errs, p.Stop(ctx))
		}
		if s.providers != nil {
			errs = append(errs, s.providers.Shutdown(ctx))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// Logs returns the tail of each process's log, for failure messages.
func (s *Stack) Logs(n int64) string {
	var b strings.Builder
	for _, p := range s.procs {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", p.name, p.logPath, p.tail(n))
	}
	return b.String()
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return "demo-" + hex.EncodeToString(b), nil
}

func withoutEnv(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// waitHTTP polls url until it answers 200, the process exits or the time
// is up.
func waitHTTP(ctx context.Context, url string, p *proc, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s", url, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitListening waits until addr accepts TCP connections.
func waitListening(ctx context.Context, addr string, p *proc, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	for {
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			return c.Close()
		}
		select {
		case <-p.Exited():
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s not listening within %s", addr, limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
