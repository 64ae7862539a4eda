package nginxreceivertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
)

// Binary returns the path of the nginx binary. When there is none it skips
// the test, unless CI is set: then a missing nginx is a failure (make test
// installs it).
func Binary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/nginx", "nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx not found: install Debian's nginx (make test does)")
	}
	t.Skip("nginx not found; install Debian's nginx to run this test (under CI=true this fails)")
	return ""
}

// Options configure the Nginx under test.
type Options struct {
	// SyslogAddr, if set, adds "access_log syslog:server=ADDR,tag=nginx tapline".
	SyslogAddr string
	// AccessLog, if set, adds "access_log PATH tapline".
	AccessLog string
	// Upstream is the host:port proxied to.
	Upstream string
	// CA verifies client certificates; Server is the TLS server certificate.
	CA     *CA
	Server *Leaf
}

// Nginx is a running Nginx.
type Nginx struct {
	bin, prefix, conf string
	cmd               *exec.Cmd
	exited            chan struct{} // closed when the process has exited
	exitErr           error
	// HTTP and HTTPS are the host:port of the plain and the TLS server block.
	HTTP, HTTPS string
}

// Start writes the configuration and starts Nginx in the foreground under a
// temporary prefix; it is stopped when the test ends.
func Start(t testing.TB, opts Options) *Nginx {
	t.Helper()
	bin := Binary(t)
	prefix := t.TempDir()
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	caPath := filepath.Join(prefix, "ca.pem")
	if err := os.WriteFile(caPath, opts.CA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := opts.Server.Write(t, prefix, "server")
	n := &Nginx{bin: bin, prefix: prefix, conf: filepath.Join(prefix, "nginx.conf"),
		HTTP: freePort(t), HTTPS: freePort(t)}
	conf := Config(ConfigParams{
		Prefix: prefix, HTTP: n.HTTP, HTTPS: n.HTTPS, Upstream: opts.Upstream,
		ServerCert: certPath, ServerKey: keyPath, ClientCA: caPath,
		SyslogAddr: opts.SyslogAddr, AccessLog: opts.AccessLog, Root: os.Geteuid() == 0,
	})
	if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "-p", prefix, "-c", n.conf, "-e", filepath.Join(prefix, "logs", "error.log"))
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	n.exited = make(chan struct{})
	go func() {
		n.exitErr = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() { n.stop(t) })
	for _, addr := range []string{n.HTTP, n.HTTPS} {
		if err := n.waitListening(addr); err != nil {
			t.Fatalf("nginx did not come up on %s: %v\n%s", addr, err, n.ErrorLog())
		}
	}
	return n
}

// ConfigParams fill the test configuration.
type ConfigParams struct {
	Prefix, HTTP, HTTPS, Upstream   string
	ServerCert, ServerKey, ClientCA string
	SyslogAddr, AccessLog           string
	Root                            bool // running as root: workers run as root too
}

// Config renders the nginx.conf the test runs: the documented log_format
// (accesslog.NginxLogFormat), the request id forwarded upstream, one plain
// and one TLS server block with optional client certificates.
func Config(p ConfigParams) string {
	var b strings.Builder
	if p.Root {
		// Workers would otherwise switch to nobody and lose the keys.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, `worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log info;
events { worker_connections 256; }
http {
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

%[2]s
`, p.Prefix, indent(accesslog.NginxLogFormat, "    "))
	if p.SyslogAddr != "" {
		fmt.Fprintf(&b, "    access_log syslog:server=%s,tag=nginx tapline;\n", p.SyslogAddr)
	}
	if p.AccessLog != "" {
		fmt.Fprintf(&b, "    access_log %s tapline;\n", p.AccessLog)
	}
	fmt.Fprintf(&b, `
    upstream app { server %[1]s; }

    server {
        listen %[2]s;
        location / {
            proxy_pass http://app;
            proxy_set_header X-Request-ID $request_id;
        }
    }

    server {
        listen %[3]s ssl;
        server_name localhost;
        ssl_certificate %[4]s;
        ssl_certificate_key %[5]s;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate %[6]s;
        ssl_verify_client optional;
        location / {
            proxy_pass http://app;
            proxy_set_header X-Request-ID $request_id;
        }
    }
}
`, p.Upstream, p.HTTP, p.HTTPS, p.ServerCert, p.ServerKey, p.ClientCA)
	return b.String()
}

func indent(s, pad string) string {
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// Reopen makes Nginx reopen its log files, as logrotate does after a rename.
func (n *Nginx) Reopen(t testing.TB) {
	t.Helper()
	out, err := exec.Command(n.bin, "-p", n.prefix, "-c", n.conf, "-s", "reopen").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -s reopen: %v\n%s", err, out)
	}
}

// ErrorLog returns Nginx's error log, for failure messages.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.prefix, "logs", "error.log"))
	return string(b)
}

func (n *Nginx) stop(t testing.TB) {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT) // graceful: finish requests, flush logs
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		t.Errorf("nginx did not stop in time")
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func (n *Nginx) waitListening(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-n.exited:
			return fmt.Errorf("nginx exited: %w", errors.Join(n.exitErr, errors.New("see its error log")))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
