package deploy_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/store/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// root is the repository root, where compose.yaml lives.
const root = ".."

// composeEnv is what compose.yaml is interpolated with in these tests: the
// two required passwords and nothing else, so every other variable takes
// its default.
var composeEnv = map[string]string{
	"CLICKHOUSE_TAPLINE_PASSWORD": "test-clickhouse-password",
	"NATS_TAPLINE_PASSWORD":       "test-nats-password",
}

// The subcommands a tapline service may run.
var taplineCommands = []string{"run", "collector", "ingest", "query", "proxy", "migrate", "report"}

type composeFile struct {
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]any             `yaml:"volumes"`
	// Extensions are the x-* keys (YAML anchors shared by services).
	Extensions map[string]any `yaml:",inline"`
}

type composeService struct {
	Image         string            `yaml:"image"`
	Build         any               `yaml:"build"`
	Command       []string          `yaml:"command"`
	Entrypoint    []string          `yaml:"entrypoint"`
	Environment   map[string]string `yaml:"environment"`
	Volumes       []string          `yaml:"volumes"`
	Ports         []string          `yaml:"ports"`
	Restart       string            `yaml:"restart"`
	User          string            `yaml:"user"`
	ContainerName string            `yaml:"container_name"`
	Ulimits       any               `yaml:"ulimits"`
	StopGrace     string            `yaml:"stop_grace_period"`
	Healthcheck   *struct {
		Test        []string `yaml:"test"`
		Disable     bool     `yaml:"disable"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

// mount is one entry of a service's volumes.
type mount struct {
	source, target string
	named          bool // a named volume, not a bind mount
}

func (s *composeService) mounts(t *testing.T) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		require.True(t, len(parts) == 2 || len(parts) == 3, "volume %q: want source:target[:mode]", v)
		named := !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/")
		out = append(out, mount{source: parts[0], target: parts[1], named: named})
	}
	return out
}

// subcommand is the tapline subcommand a service runs, or "" for a
// service that runs something else.
func (s *composeService) subcommand() string {
	if !strings.HasPrefix(s.Image, "tapline:") || len(s.Entrypoint) > 0 || len(s.Command) == 0 {
		return ""
	}
	return s.Command[0]
}

func (s *composeService) oneShot() bool {
	return s.Restart == "no" && s.Healthcheck != nil && s.Healthcheck.Disable
}

// interpolate replaces compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?message}, ${VAR?message} and $$ in s.
var varRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := varRE.FindStringSubmatch(m)
		name, op, arg := sub[1], sub[2], sub[3]
		v, set := env[name]
		empty := !set || (strings.HasPrefix(op, ":") && v == "")
		switch {
		case strings.HasSuffix(op, "-") && empty:
			return arg
		case strings.HasSuffix(op, "?") && empty:
			errs = append(errs, fmt.Errorf("%s: %s", name, arg))
		}
		return v
	})
	return out, errors.Join(errs...)
}

func interpolateAll(v any, env map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		return interpolate(x, env)
	case map[string]any:
		for k, e := range x {
			r, err := interpolateAll(e, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := interpolateAll(e, env)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

// loadCompose reads compose.yaml as compose would, with env.
func loadCompose(t *testing.T, env map[string]string) *composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	require.NoError(t, err)
	var raw any
	require.NoError(t, yaml.Unmarshal(data, &raw)) // resolves the << merges
	raw, err = interpolateAll(raw, env)
	require.NoError(t, err)
	norm, err := yaml.Marshal(raw)
	require.NoError(t, err)
	var f composeFile
	dec := yaml.NewDecoder(bytes.NewReader(norm))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&f), "compose.yaml uses a key these tests do not know")
	require.NotEmpty(t, f.Services)
	return &f
}

// needTool finds a program, or skips the test (fails it under CI=true).
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" && os.Getenv("CI") != "false" {
		t.Fatalf("%s is not installed (make deps installs it)", name)
	}
	t.Skipf("%s is not installed: skipping (make deps installs it; under CI=true this fails)", name)
	return ""
}

// TestComposeConfigValidates runs Debian's docker-compose, which validates
// the file against the Compose schema without a Docker engine.
func TestComposeConfigValidates(t *testing.T) {
	dc := needTool(t, "docker-compose")
	run := func(env map[string]string) ([]byte, []byte, error) {
		cmd := exec.Command(dc, "--project-directory", root, "-f", filepath.Join(root, "compose.yaml"), "config")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.Bytes(), stderr.Bytes(), err
	}

	out, stderr, err := run(composeEnv)
	require.NoError(t, err, "docker-compose config: %s", stderr)
	var resolved struct {
		Services map[string]any `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(out, &resolved))
	want := loadCompose(t, composeEnv)
	require.ElementsMatch(t, keys(want.Services), keys(resolved.Services))

	// Without the passwords compose refuses, naming what is missing.
	for name := range composeEnv {
		env := map[string]string{}
		for k, v := range composeEnv {
			if k != name {
				env[k] = v
			}
		}
		_, stderr, err := run(env)
		require.Error(t, err, "compose.yaml without %s", name)
		require.Contains(t, string(stderr), name)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestComposeStructure(t *testing.T) {
	f := loadCompose(t, composeEnv)

	for k := range f.Extensions {
		require.True(t, strings.HasPrefix(k, "x-"), "top-level key %q", k)
	}
	raw, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`\$\{(TAPLINE_[A-Z0-9_]*)`).FindAllStringSubmatch(string(raw), -1) {
		t.Errorf("compose variable %s: TAPLINE_ variables are Tapline's configuration keys; a shell exporting it would break `tapline`", m[1])
	}

	for _, want := range []string{"clickhouse", "nats", "tapline-migrate", "tapline-collector", "tapline-ingest", "tapline-query", "tapline-proxy", "app", "nginx"} {
		require.Contains(t, keys(f.Services), want)
	}

	for name, s := range f.Services {
		t.Run(name, func(t *testing.T) {
			// Every file mounted from the repository exists; every named
			// volume is declared.
			for _, m := range s.mounts(t) {
				if m.named {
					require.Contains(t, f.Volumes, m.source, "volume %s is not declared", m.source)
					continue
				}
				require.True(t, strings.HasPrefix(m.source, "./"), "bind mount %s: use a path in the repository", m.source)
				_, err := os.Stat(filepath.Join(root, m.source))
				require.NoError(t, err, "mounted file")
			}

			// Health: a long-running service has a health check; a one-shot
			// service is waited for with service_completed_successfully.
			require.NotNil(t, s.Healthcheck, "no healthcheck")
			if s.oneShot() {
				var waiters []string
				for other, o := range f.Services {
					if d, ok := o.DependsOn[name]; ok {
						require.Equal(t, "service_completed_successfully", d.Condition, "%s waits for one-shot %s", other, name)
						waiters = append(waiters, other)
					}
				}
				require.NotEmpty(t, waiters, "one-shot service nobody waits for")
			} else {
				require.False(t, s.Healthcheck.Disable)
				require.NotEmpty(t, s.Healthcheck.Test)
				require.Contains(t, []string{"CMD", "CMD-SHELL"}, s.Healthcheck.Test[0])
				require.NotEqual(t, "no", s.Restart, "a long-running service restarts")
			}
			for dep, d := range s.DependsOn {
				require.Contains(t, keys(f.Services), dep)
				if d.Condition == "service_healthy" {
					require.False(t, f.Services[dep].oneShot(), "%s has no health check to wait for", dep)
				}
			}
			if sub := s.subcommand(); sub != "" {
				require.Contains(t, taplineCommands, sub)
				if sub != "migrate" {
					require.Equal(t, "service_completed_successfully", s.DependsOn["tapline-migrate"].Condition,
						"tapline services start after the migration")
				}
			}
		})
	}

	// Ingest scales: several replicas, nothing that pins one container.
	ing := f.Services["tapline-ingest"]
	require.GreaterOrEqual(t, ing.Deploy.Replicas, 2)
	require.Empty(t, ing.ContainerName)
	require.Empty(t, ing.Ports)
}

// published is one published port.
type published struct {
	hostIP, hostPort, containerPort, proto string
}

func parsePort(t *testing.T, spec string) published {
	t.Helper()
	p := published{proto: "tcp"}
	if s, proto, ok := strings.Cut(spec, "/"); ok {
		spec, p.proto = s, proto
	}
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 2:
		p.hostIP, p.hostPort, p.containerPort = "0.0.0.0", parts[0], parts[1]
	case 3:
		p.hostIP, p.hostPort, p.containerPort = parts[0], parts[1], parts[2]
	default:
		t.Fatalf("port %q: want [ip:]host:container[/proto]", spec)
	}
	require.NotNil(t, net.ParseIP(p.hostIP), "port %q", spec)
	return p
}

func TestComposePortsDoNotClash(t *testing.T) {
	// Defaults, and everything published on all interfaces.
	for _, env := range []map[string]string{composeEnv, merge(composeEnv, map[string]string{
		"PUBLIC_BIND": "0.0.0.0", "UI_BIND": "0.0.0.0", "OTLP_BIND": "0.0.0.0",
	})} {
		f := loadCompose(t, env)
		seen := map[string]string{}
		for _, name := range keys(f.Services) {
			for _, spec := range f.Services[name].Ports {
				p := parsePort(t, spec)
				key := p.hostPort + "/" + p.proto
				if other, ok := seen[key]; ok {
					t.Errorf("host port %s published by %s and %s", key, other, name)
				}
				seen[key] = name
			}
		}
		require.NotEmpty(t, seen)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// certificates runs deploy/certs.sh as the tapline-certs service does,
// into a temporary directory, and returns it.
func certificates(t *testing.T, env map[string]string) string {
	t.Helper()
	sh := needTool(t, "sh")
	needTool(t, "openssl")
	dir := t.TempDir()
	cmd := exec.Command(sh, filepath.Join(root, "deploy", "certs.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "OUT=" + filepath.Join(dir, "certs"), "CA_DIR=" + filepath.Join(dir, "ca")}
	for k, v := range env {
		if k != "OUT" && k != "CA_DIR" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "certs.sh: %s", out)
	return filepath.Join(dir, "certs")
}

// serviceConfig loads the Tapline configuration a service runs with: the
// file TAPLINE_CONFIG names (found through the service's bind mounts) and
// the service's TAPLINE_* variables, strictly. Paths under the service's
// mounts are then pointed at the host: bind mounts at the repository,
// the tls volume at certs, other volumes at empty directories; the data
// directory at a temporary one.
func serviceConfig(t *testing.T, s *composeService, certs string) config.Config {
	t.Helper()
	var env []string
	for k, v := range s.Environment {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	file := s.Environment["TAPLINE_CONFIG"]
	require.NotEmpty(t, file, "TAPLINE_CONFIG")
	hostDirs := map[string]string{}
	for _, m := range s.mounts(t) {
		switch {
		case !m.named:
			hostDirs[m.target] = filepath.Join(root, m.source)
		case m.source == "tls":
			hostDirs[m.target] = certs
		default:
			hostDirs[m.target] = t.TempDir()
		}
	}
	host := func(p string) (string, bool) {
		for target, dir := range hostDirs {
			if p == target {
				return dir, true
			}
			if rest, ok := strings.CutPrefix(p, target+"/"); ok {
				return filepath.Join(dir, rest), true
			}
		}
		return p, false
	}
	hostFile, ok := host(file)
	require.True(t, ok, "TAPLINE_CONFIG %s is not mounted", file)

	cfg, err := config.Parse(config.Sources{File: hostFile, Env: env})
	require.NoError(t, err, "the configuration loads strictly")
	rewritePaths(reflect.ValueOf(&cfg).Elem(), host)
	cfg.DataDir = t.TempDir()
	require.NoError(t, cfg.ValidateSections(config.CommandSections(s.subcommand())...))
	return cfg
}

// rewritePaths applies host to every string of v.
func rewritePaths(v reflect.Value, host func(string) (string, bool)) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() && v.String() != "" {
			if h, ok := host(v.String()); ok {
				v.SetString(h)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			rewritePaths(v.Elem(), host)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				rewritePaths(v.Field(i), host)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			rewritePaths(v.Index(i), host)
		}
	}
}

// listens lists the addresses a tapline subcommand listens on, with the
// protocol.
func listens(cfg config.Config, sub string) map[string]string {
	out := map[string]string{cfg.HTTP.Addr: "tcp"}
	switch sub {
	case "collector":
		out[cfg.Collector.OTLPGRPC] = "tcp"
		out[cfg.Collector.OTLPHTTP] = "tcp"
		if cfg.Collector.NginxSyslog != "" && cfg.Collector.NginxSyslog != "off" {
			out[cfg.Collector.NginxSyslog] = "udp"
		}
	case "query":
		out[cfg.Query.GRPC.Listen] = "tcp"
	case "proxy":
		for _, l := range cfg.Proxy.Listeners {
			out[l.Address] = "tcp"
		}
	}
	return out
}

// reachable reports whether a service listening on addrs can be reached
// from other containers on port/proto.
func reachable(addrs map[string]string, port, proto string) bool {
	for addr, p := range addrs {
		h, pt, err := net.SplitHostPort(addr)
		if err != nil || pt != port || p != proto {
			continue
		}
		if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
			return true
		}
	}
	return false
}

func hostOf(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Hostname(), u.Port()
}

// TestComposeTaplineConfigs loads, for every tapline service, the
// configuration it runs with, and checks that it fits the compose network.
func TestComposeTaplineConfigs(t *testing.T) {
	f := loadCompose(t, composeEnv)
	certs := certificates(t, f.Services["tapline-certs"].Environment)
	n := 0
	for name, s := range f.Services {
		sub := s.subcommand()
		if sub == "" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			cfg := serviceConfig(t, s, certs)

			// The image has no chDB and the bus is shared: a server each.
			require.Equal(t, config.EngineClickHouse, cfg.Store.Engine)
			h, _ := hostOf(t, cfg.Store.ClickHouse.DSN.Value())
			require.Contains(t, keys(f.Services), h, "store.clickhouse.dsn host")
			require.False(t, cfg.Bus.IsEmbedded(), "bus.url")
			for _, u := range strings.Split(cfg.Bus.URL, ",") {
				h, _ := hostOf(t, strings.TrimSpace(u))
				require.Contains(t, keys(f.Services), h, "bus.url host")
			}
			require.Equal(t, s.Environment["TAPLINE_BUS_PASSWORD"], cfg.Bus.Password.Value())

			addrs := listens(cfg, sub)
			_, httpPort, err := net.SplitHostPort(cfg.HTTP.Addr)
			require.NoError(t, err)
			if !s.oneShot() {
				require.Contains(t, strings.Join(s.Healthcheck.Test, " "), "127.0.0.1:"+httpPort+"/readyz",
					"the health check asks the service's /readyz")
			}
			for _, spec := range s.Ports {
				p := parsePort(t, spec)
				require.True(t, reachable(addrs, p.containerPort, p.proto),
					"published port %s: nothing listens on it beyond loopback (%v)", spec, addrs)
			}
			if sub == "proxy" {
				require.True(t, cfg.Proxy.Configured())
				for _, up := range cfg.Proxy.Upstreams {
					h, port := hostOf(t, up.URL)
					require.Contains(t, keys(f.Services), h, "upstream %s", up.Name)
					require.NotNil(t, f.Services[h].Healthcheck)
					require.Contains(t, s.DependsOn, h, "the proxy waits for its upstream")
					require.NotEmpty(t, port)
				}
			}
		})
	}
	require.GreaterOrEqual(t, n, 5)
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}`)

// TestComposeNginx checks the Nginx service against the demo's template:
// every placeholder is set (and only those are substituted), every file
// it names is made by deploy/certs.sh, and the addresses it sends to are
// the proxy's listener and the collector's syslog receiver.
func TestComposeNginx(t *testing.T) {
	f := loadCompose(t, composeEnv)
	ng := f.Services["nginx"]
	certs := certificates(t, f.Services["tapline-certs"].Environment)

	var template string
	tlsTarget := ""
	for _, m := range ng.mounts(t) {
		if strings.HasPrefix(m.target, "/etc/nginx/templates/") {
			require.True(t, strings.HasSuffix(m.target, ".template"))
			data, err := os.ReadFile(filepath.Join(root, m.source))
			require.NoError(t, err)
			template = string(data)
		}
		if m.named && m.source == "tls" {
			tlsTarget = m.target
		}
	}
	require.NotEmpty(t, template, "the nginx template is mounted")
	require.Equal(t, tlsTarget, ng.Environment["NGINX_TLS_DIR"], "NGINX_TLS_DIR is where the tls volume is")

	filter := regexp.MustCompile(ng.Environment["NGINX_ENVSUBST_FILTER"])
	placeholders := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(template, -1) {
		name := m[1]
		placeholders[name] = true
		require.NotEmpty(t, ng.Environment[name], "template placeholder %s is not set", name)
		require.True(t, filter.MatchString(name), "NGINX_ENVSUBST_FILTER leaves %s out", name)
	}
	require.NotEmpty(t, placeholders)
	for name := range ng.Environment {
		if filter.MatchString(name) {
			require.True(t, placeholders[name], "%s is substituted but the template has no ${%s}", name, name)
		}
	}

	files := regexp.MustCompile(`\$\{NGINX_TLS_DIR\}/([^\s;]+)`).FindAllStringSubmatch(template, -1)
	require.NotEmpty(t, files)
	for _, m := range files {
		_, err := os.Stat(filepath.Join(certs, m[1]))
		require.NoError(t, err, "the template names %s, which deploy/certs.sh does not make", m[1])
	}

	// The proxy and the syslog receiver are where Nginx sends.
	targets := []struct {
		env, sub, proto string
	}{
		{"PROXY_ADDR", "proxy", "tcp"},
		{"SYSLOG_ADDR", "collector", "udp"},
	}
	for _, tc := range targets {
		h, port, err := net.SplitHostPort(ng.Environment[tc.env])
		require.NoError(t, err, tc.env)
		svc := f.Services[h]
		require.NotNil(t, svc, "%s: no service %s", tc.env, h)
		require.Equal(t, tc.sub, svc.subcommand())
		require.Equal(t, "service_healthy", ng.DependsOn[h].Condition, "nginx resolves %s at start", h)
		cfg := serviceConfig(t, svc, certs)
		require.True(t, reachable(listens(cfg, tc.sub), port, tc.proto), "%s=%s: %s does not listen there", tc.env, ng.Environment[tc.env], h)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block, path)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func pool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	p := x509.NewCertPool()
	require.True(t, p.AppendCertsFromPEM(data), path)
	return p
}

// TestComposeCertificates checks what deploy/certs.sh makes against what
// the proxy and Nginx expect of each other: the proxy's certificate for
// PROXY_SERVER_NAME, Nginx's client certificate an X509-SVID that the
// proxy's client CA accepts and its trusted_proxies name; and that a second
// run keeps the certificates.
func TestComposeCertificates(t *testing.T) {
	f := loadCompose(t, composeEnv)
	env := f.Services["tapline-certs"].Environment
	certs := certificates(t, env)
	ng := f.Services["nginx"]
	proxyCfg := serviceConfig(t, f.Services["tapline-proxy"], certs)
	require.NotEmpty(t, proxyCfg.Proxy.Listeners)
	lt := proxyCfg.Proxy.Listeners[0].TLS

	_, err := readCert(t, lt.Cert).Verify(x509.VerifyOptions{
		DNSName:   ng.Environment["PROXY_SERVER_NAME"],
		Roots:     pool(t, filepath.Join(certs, "ca.pem")), // proxy_ssl_trusted_certificate
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	require.NoError(t, err, "nginx verifies the proxy's certificate")

	client := readCert(t, filepath.Join(certs, "nginx-client.pem"))
	_, err = client.Verify(x509.VerifyOptions{
		Roots:     pool(t, lt.ClientCA),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	require.NoError(t, err, "the proxy accepts nginx's client certificate")
	require.Len(t, client.URIs, 1, "an X509-SVID has exactly one URI SAN")
	require.Contains(t, proxyCfg.Proxy.Identity.TrustedProxies.SPIFFEIDs, client.URIs[0].String())

	_, err = readCert(t, filepath.Join(certs, "server.pem")).Verify(x509.VerifyOptions{
		DNSName: ng.Environment["NGINX_SERVER_NAME"],
		Roots:   pool(t, filepath.Join(certs, "ca.pem")),
	})
	require.NoError(t, err, "the public certificate names NGINX_SERVER_NAME")

	// Run again: nothing changes.
	before, err := os.ReadFile(filepath.Join(certs, "proxy.pem"))
	require.NoError(t, err)
	cmd := exec.Command("sh", filepath.Join(root, "deploy", "certs.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "OUT=" + certs, "CA_DIR=" + filepath.Join(filepath.Dir(certs), "ca")}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	after, err := os.ReadFile(filepath.Join(certs, "proxy.pem"))
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// snippetRE finds the fenced YAML blocks of a Markdown file that are
// Tapline configuration files: their first line is "# tapline.yaml".
var snippetRE = regexp.MustCompile("(?s)```yaml\n(# tapline\\.yaml[^\n]*\n.*?)```")

// TestDocSnippets loads the configuration examples of deploy/README.md and
// of the README's quick start with the config package, strictly, and
// validates them; a cluster example must render the cluster schema.
func TestDocSnippets(t *testing.T) {
	f := loadCompose(t, composeEnv)
	certs := certificates(t, f.Services["tapline-certs"].Environment)
	for _, doc := range []struct {
		name, file string
		min        int
	}{
		{"deploy-README", filepath.Join(root, "deploy", "README.md"), 2},
		{"README", filepath.Join(root, "README.md"), 2},
	} {
		data, err := os.ReadFile(doc.file)
		require.NoError(t, err)
		blocks := snippetRE.FindAllStringSubmatch(string(data), -1)
		require.GreaterOrEqual(t, len(blocks), doc.min, "%s: configuration examples", doc.file)
		for i, b := range blocks {
			t.Run(fmt.Sprintf("%s#%d", doc.name, i+1), func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "tapline.yaml")
				require.NoError(t, os.WriteFile(file, []byte(b[1]), 0o600))
				cfg, err := config.Parse(config.Sources{File: file})
				require.NoError(t, err, "%s", b[1])
				// Certificates as deploy/certs.sh makes them: in
				// /etc/tapline/tls as compose mounts them, or in ./tls as
				// the quick start makes them.
				rewritePaths(reflect.ValueOf(&cfg).Elem(), func(p string) (string, bool) {
					for _, dir := range []string{"/etc/tapline/tls/", "tls/"} {
						if rest, ok := strings.CutPrefix(p, dir); ok {
							return filepath.Join(certs, rest), true
						}
					}
					return p, false
				})
				cfg.DataDir = t.TempDir()
				require.NoError(t, cfg.Validate(), "%s", b[1])
				if cfg.Store.Schema.Cluster == "" {
					return
				}
				stmts, err := schema.Render(cfg.Store.Schema)
				require.NoError(t, err)
				var sql []string
				for _, s := range stmts {
					sql = append(sql, s.SQL)
				}
				all := strings.Join(sql, "\n")
				for _, want := range []string{"ON CLUSTER '" + cfg.Store.Schema.Cluster + "'", "ReplicatedMergeTree(", "ENGINE = Distributed("} {
					require.Contains(t, all, want)
				}
				require.True(t, slices.ContainsFunc(sql, func(s string) bool {
					return strings.Contains(s, "ReplicatedReplacingMergeTree(") || strings.Contains(s, "ReplicatedAggregatingMergeTree(")
				}))
			})
		}
	}
}
