package proxybench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/proxybench"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/proxy/tap"
)

var (
	latencyDuration    = flag.Duration("proxybench.latency", 4*time.Second, "duration of each latency run (one connection)")
	throughputDuration = flag.Duration("proxybench.throughput", 5*time.Second, "duration of each throughput run")
	concurrency        = flag.Int("proxybench.concurrency", 32, "connections in the throughput runs")
	rounds             = flag.Int("proxybench.rounds", 3, "rounds, targets interleaved in each; the median over the rounds is reported")
	withoutEvents      = flag.Bool("proxybench.without-events", false, "also measure the proxy with events off (no publisher), to see what the tap costs")
	tapProfile         = flag.String("proxybench.tapprofile", "", "write a CPU profile of the tap process to this file")
	tapTrace           = flag.String("proxybench.taptrace", "", "write an execution trace of the tap process to this file, for the window -proxybench.taptrace-window")
	tapTraceWindow     = flag.String("proxybench.taptrace-window", "4.5s,3s", "start (after the tap started) and length of the trace; the default falls in round 1's tap latency run")
	tapSettings        = flag.String("proxybench.tapenv", "", "space-separated NAME=value settings for the tap process only (GOMAXPROCS=1 GOGC=400)")
	baseline           = flag.String("proxybench.baseline", "", "a test binary of another version of this package: its tap is measured too, as target \"baseline\", in the same rounds")
)

// The benchmark re-executes its own binary for the processes it measures;
// roleEnv says which one a child is.
const roleEnv = "PROXYBENCH_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "upstream":
		os.Exit(runUpstream())
	case "tap":
		os.Exit(runTap())
	}
	os.Exit(m.Run())
}

// body is the 1 KiB the upstream answers with.
var body = bytes.Repeat([]byte("0123456789abcdef"), 64)

// runUpstream serves 1 KiB answers on a loopback port until stdin closes.
func runUpstream() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// runTap runs the proxy tap with an embedded NATS JetStream until stdin closes.
func runTap() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "tap:", err); return 1 }
	ctx := context.Background()
	dir := os.Getenv("PROXYBENCH_DIR")
	bcfg := bus.Default()
	bcfg.Embedded.Listen = "127.0.0.1:0"
	b := bus.New(bcfg, filepath.Join(dir, "bus"), nil)
	if err := b.Start(ctx); err != nil {
		return fail(err)
	}
	defer b.Shutdown(ctx)
	cfg := proxy.Default()
	l := proxy.DefaultListener()
	l.Name, l.Address = "bench", "127.0.0.1:0"
	l.TLS.Cert, l.TLS.Key, l.TLS.ClientCA = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem")
	l.DisableHTTP2 = true
	cfg.Listeners = []proxy.ListenerConfig{l}
	cfg.Upstreams = []proxy.UpstreamConfig{{Name: "app", URL: "http://" + os.Getenv("PROXYBENCH_UPSTREAM")}}
	cfg.Routes = []proxy.RouteConfig{{Name: "app", Upstream: "app", Policy: policy.Config{
		Allow: []policy.Rule{{SPIFFEIDs: []string{"spiffe://example.org/ns/bench/**"}}},
	}}}
	var pub tap.Publisher = tap.JetStream(b.JetStream())
	if os.Getenv("PROXYBENCH_NO_EVENTS") != "" {
		pub = nil
	}
	p, err := proxy.New(cfg, pub, nil, nil)
	if err != nil {
		return fail(err)
	}
	if err := p.Start(ctx); err != nil {
		return fail(err)
	}
	if prof := os.Getenv("PROXYBENCH_CPUPROFILE"); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	if tr := os.Getenv("PROXYBENCH_TRACE"); tr != "" {
		stop, err := traceWindow(tr, os.Getenv("PROXYBENCH_TRACE_WINDOW"))
		if err != nil {
			return fail(err)
		}
		defer stop()
	}
	fmt.Printf("ADDR %s\n", p.Addr("bench"))
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = p.Shutdown(ctx)
	return 0
}

// child starts this binary in a role and returns the address it printed.
func child(b *testing.B, role string, env ...string) (string, int) {
	b.Helper()
	return childOf(b, os.Args[0], role, env...)
}

// childOf starts a test binary of this package (this one or a baseline) in
// a role and returns the address it printed.
func childOf(b *testing.B, bin, role string, env ...string) (string, int) {
	b.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, roleEnv+"="+role)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		b.Fatalf("%s did not start: %q %v", role, line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")), cmd.Process.Pid
}

var nginxConf = template.Must(template.New("nginx").Parse(`
{{if .Root}}user root;{{end}}
worker_processes auto;
daemon off;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/nginx-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path {{.Dir}}/body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    # What the tap records, as an nginx access log (buffered, as one would).
    log_format tap escape=json '{"time":"$time_iso8601","request_id":"$request_id","method":"$request_method",'
        '"uri":"$request_uri","status":$status,"bytes":$body_bytes_sent,"rt":$request_time,'
        '"tls":"$ssl_protocol","cipher":"$ssl_cipher","verify":"$ssl_client_verify",'
        '"subject":"$ssl_client_s_dn","fingerprint":"$ssl_client_fingerprint","upstream":"$upstream_addr"}';
    access_log {{.Dir}}/access.log tap buffer=64k flush=1s;
    upstream app { server {{.Upstream}}; keepalive 128; }
    server {
        listen {{.Listen}} ssl;
        ssl_certificate {{.Dir}}/server.pem;
        ssl_certificate_key {{.Dir}}/server-key.pem;
        ssl_client_certificate {{.Dir}}/ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Request-ID $request_id;
            proxy_set_header X-Client-Verify $ssl_client_verify;
            proxy_set_header X-Client-DN $ssl_client_s_dn;
        }
    }
}
`))

// startNginx runs Debian's nginx as the same kind of mTLS proxy, or returns
// "" when there is no nginx.
func startNginx(b *testing.B, dir, upstream string) (string, int) {
	b.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			return "", 0
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var conf bytes.Buffer
	if err := nginxConf.Execute(&conf, map[string]any{"Dir": dir, "Upstream": upstream, "Listen": addr, "Root": os.Geteuid() == 0}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, conf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", file, "-e", filepath.Join(dir, "nginx-error.log"))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, cmd.Process.Pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("nginx did not listen on %s", addr)
	return "", 0
}

type target struct {
	name   string
	url    string
	client *http.Client
	pid    int // the proxy process, whose CPU time per request is reported
}

// BenchmarkTapVsNginx measures direct, tap and nginx in one run and reports
// the tap's added latency over direct and its throughput relative to nginx.
//
//	go test ./proxy/proxybench -run '^$' -bench TapVsNginx -benchtime 1x
func BenchmarkTapVsNginx(b *testing.B) {
	dir, err := os.MkdirTemp("", "proxybench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	ca := proxytest.NewCA(b, "Bench CA")
	srv := ca.ServerCert(b, "localhost")
	client := ca.Issue(b, proxytest.Leaf{CommonName: "loadgen", SPIFFEID: "spiffe://example.org/ns/bench/sa/loadgen"})
	// Each proxy process gets a directory of its own (the certificates,
	// and its embedded NATS JetStream's store, which must not be shared).
	procDir := func(name string) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		for file, data := range map[string][]byte{"server.pem": srv.CertPEM, "server-key.pem": srv.KeyPEM, "ca.pem": ca.PEM} {
			if err := os.WriteFile(filepath.Join(d, file), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		return d
	}
	procDir(".") // nginx's

	up, upPID := child(b, "upstream")
	settings := append([]string{"PROXYBENCH_UPSTREAM=" + up}, strings.Fields(*tapSettings)...)
	envFor := func(name string, more ...string) []string {
		return append(append([]string{"PROXYBENCH_DIR=" + procDir(name)}, settings...), more...)
	}
	tapEnv := envFor("tap")
	if *tapProfile != "" {
		abs, err := filepath.Abs(*tapProfile)
		if err != nil {
			b.Fatal(err)
		}
		tapEnv = append(tapEnv, "PROXYBENCH_CPUPROFILE="+abs)
	}
	if *tapTrace != "" {
		abs, err := filepath.Abs(*tapTrace)
		if err != nil {
			b.Fatal(err)
		}
		tapEnv = append(tapEnv, "PROXYBENCH_TRACE="+abs, "PROXYBENCH_TRACE_WINDOW="+*tapTraceWindow)
	}
	tapAddr, tapPID := child(b, "tap", tapEnv...)
	nginxAddr, nginxPID := startNginx(b, dir, up)

	newClient := func(tlsOn bool) *http.Client {
		tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, DisableCompression: true}
		if tlsOn {
			tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLS}}
		}
		return &http.Client{Transport: tr}
	}
	targets := []target{
		{"direct", "http://" + up + "/bench", newClient(false), upPID},
		{"tap", "https://" + tapAddr + "/bench", newClient(true), tapPID},
	}
	if *baseline != "" {
		base, basePID := childOf(b, *baseline, "tap", envFor("baseline")...)
		targets = append(targets, target{"baseline", "https://" + base + "/bench", newClient(true), basePID})
	}
	if *withoutEvents {
		off, offPID := child(b, "tap", envFor("no-events", "PROXYBENCH_NO_EVENTS=1")...)
		targets = append(targets, target{"proxy-no-events", "https://" + off + "/bench", newClient(true), offPID})
	}
	if nginxAddr != "" {
		targets = append(targets, target{"nginx", "https://" + nginxAddr + "/bench", newClient(true), nginxPID})
	} else if os.Getenv("CI") != "" {
		b.Fatal("nginx not found under CI")
	} else {
		b.Log("nginx not found: throughput ratio not measured")
	}
	reqBody := bytes.Repeat([]byte("x"), 1024)

	for range b.N {
		var rs []roundResult
		ctx := context.Background()
		check := func(name string, r proxybench.Result) {
			if r.Errors > 0 {
				b.Errorf("%s: %d errors, first: %v", name, r.Errors, r.FirstErr)
			}
		}
		for round := range *rounds {
			rr := roundResult{lat: map[string]proxybench.Result{}, thr: map[string]proxybench.Result{}, cpu: map[string]float64{}}
			order := targets
			if round%2 == 1 {
				// Every other round measures the proxies in the opposite
				// order (direct stays first), so that none always runs
				// right after another on a host whose load drifts.
				order = append([]target{targets[0]}, targets[1:]...)
				slices.Reverse(order[1:])
			}
			for _, tg := range order {
				r, err := proxybench.Load{URL: tg.url, Client: tg.client, Concurrency: 1, Duration: *latencyDuration, Warmup: 200, Body: reqBody}.Run(ctx)
				if err != nil {
					b.Fatal(err)
				}
				check(tg.name, r)
				b.Logf("round %d latency    %-6s %s", round+1, tg.name, r)
				rr.lat[tg.name] = r
			}
			for _, tg := range order {
				cpu0, up0 := procCPU(tg.pid), procCPU(upPID)
				r, err := proxybench.Load{URL: tg.url, Client: tg.client, Concurrency: *concurrency, Duration: *throughputDuration, Warmup: 5, Body: reqBody}.Run(ctx)
				if err != nil {
					b.Fatal(err)
				}
				check(tg.name, r)
				cpu := procCPU(tg.pid) - cpu0
				rr.cpu[tg.name] = float64(cpu.Microseconds()) / float64(r.Requests)
				b.Logf("round %d throughput %-6s %s; CPU %.0fµs/req (upstream %.0fµs/req)", round+1, tg.name, r,
					rr.cpu[tg.name], float64((procCPU(upPID)-up0).Microseconds())/float64(r.Requests))
				rr.thr[tg.name] = r
			}
			b.Logf("round %d summary: %s", round+1, rr)
			rs = append(rs, rr)
		}
		// Each figure is taken within a round (targets measured minutes
		// apart on a shared machine are not comparable); the median over
		// the rounds is reported.
		report := func(unit string, f func(roundResult) (float64, bool)) {
			var v []float64
			for _, r := range rs {
				if x, ok := f(r); ok {
					v = append(v, x)
				}
			}
			if len(v) > 0 {
				b.ReportMetric(median(v), unit)
			}
		}
		report("direct-p50-µs", func(r roundResult) (float64, bool) { return micro(r.lat["direct"].P50), true })
		report("tap-added-p50-µs", func(r roundResult) (float64, bool) { return r.added("tap", 50), true })
		report("tap-added-p99-µs", func(r roundResult) (float64, bool) { return r.added("tap", 99), true })
		report("tap-req/s", func(r roundResult) (float64, bool) { return r.thr["tap"].PerSecond, true })
		report("tap-cpu-µs/req", func(r roundResult) (float64, bool) { return r.cpu["tap"], true })
		report("direct-req/s", func(r roundResult) (float64, bool) { return r.thr["direct"].PerSecond, true })
		report("nginx-added-p50-µs", func(r roundResult) (float64, bool) { _, ok := r.lat["nginx"]; return r.added("nginx", 50), ok })
		report("nginx-added-p99-µs", func(r roundResult) (float64, bool) { _, ok := r.lat["nginx"]; return r.added("nginx", 99), ok })
		report("nginx-req/s", func(r roundResult) (float64, bool) { n, ok := r.thr["nginx"]; return n.PerSecond, ok })
		report("nginx-cpu-µs/req", func(r roundResult) (float64, bool) { n, ok := r.cpu["nginx"]; return n, ok })
		report("tap/nginx-throughput", func(r roundResult) (float64, bool) { return r.ratio() })
		report("baseline-cpu-µs/req", func(r roundResult) (float64, bool) { n, ok := r.cpu["baseline"]; return n, ok })
		report("baseline/nginx-throughput", func(r roundResult) (float64, bool) { return r.ratioOf("baseline") })
		report("tap/baseline-throughput", func(r roundResult) (float64, bool) {
			n, ok := r.thr["baseline"]
			if !ok || n.PerSecond == 0 {
				return 0, false
			}
			return r.thr["tap"].PerSecond / n.PerSecond, true
		})
	}
}

func micro(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// roundResult is one round: every target's latency and throughput runs, and
// the proxy processes' CPU time per request.
type roundResult struct {
	lat, thr map[string]proxybench.Result
	cpu      map[string]float64
}

// added is a target's latency over direct at a percentile (50 or 99), µs.
func (r roundResult) added(name string, pct int) float64 {
	if pct == 99 {
		return micro(r.lat[name].P99 - r.lat["direct"].P99)
	}
	return micro(r.lat[name].P50 - r.lat["direct"].P50)
}

// ratio is the tap's throughput over nginx's in this round.
func (r roundResult) ratio() (float64, bool) { return r.ratioOf("tap") }

// ratioOf is a target's throughput over nginx's in this round.
func (r roundResult) ratioOf(name string) (float64, bool) {
	n, ok := r.thr["nginx"]
	t, tok := r.thr[name]
	if !ok || !tok || n.PerSecond == 0 {
		return 0, false
	}
	return t.PerSecond / n.PerSecond, true
}

func (r roundResult) String() string {
	s := fmt.Sprintf("tap added p50 %.0fµs p99 %.0fµs, CPU %.0fµs/req", r.added("tap", 50), r.added("tap", 99), r.cpu["tap"])
	if ratio, ok := r.ratio(); ok {
		s += fmt.Sprintf("; nginx added p50 %.0fµs p99 %.0fµs, CPU %.0fµs/req; tap/nginx throughput %.2f",
			r.added("nginx", 50), r.added("nginx", 99), r.cpu["nginx"], ratio)
	}
	if ratio, ok := r.ratioOf("baseline"); ok {
		s += fmt.Sprintf("; baseline CPU %.0fµs/req, baseline/nginx throughput %.2f", r.cpu["baseline"], ratio)
	}
	return s
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 1 {
		return v[n/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// traceWindow writes an execution trace to file during a window ("start,length"
// after now); stop ends it early if it is still running.
func traceWindow(file, window string) (stop func(), err error) {
	from, length, ok := strings.Cut(window, ",")
	if !ok {
		return nil, fmt.Errorf("trace window %q: want start,length", window)
	}
	start, err := time.ParseDuration(from)
	if err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(length)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer f.Close()
		select {
		case <-time.After(start):
		case <-done:
			return
		}
		if err := trace.Start(f); err != nil {
			return
		}
		defer trace.Stop()
		select {
		case <-time.After(d):
		case <-done:
		}
	}()
	return func() { close(done); <-finished }, nil
}
