package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/internal/yamlfields"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/tap"
)

// Client authentication modes of a listener.
const (
	ClientAuthRequire       = "require"         // a client certificate is required and verified
	ClientAuthVerifyIfGiven = "verify_if_given" // optional; verified when presented
	ClientAuthNone          = "none"            // not asked for
)

// DefaultAddress is where the proxy listens unless told otherwise: loopback,
// like every Tapline listener; exposing it is a configuration choice.
const DefaultAddress = "127.0.0.1:8443"

// Config is the proxy section of the configuration file.
type Config struct {
	// ServiceName is the service.name of the tap's events and spans.
	ServiceName string `yaml:"service_name"`
	// Node is recorded as tapline.node; empty means the host name.
	Node      string           `yaml:"node"`
	Listeners []ListenerConfig `yaml:"listeners"`
	Upstreams []UpstreamConfig `yaml:"upstreams"`
	Routes    []RouteConfig    `yaml:"routes"`
	Identity  IdentityConfig   `yaml:"identity"`
	Tap       tap.Config       `yaml:"tap"`
}

// ListenerConfig is one TLS listener. Zero durations and sizes mean the
// defaults of DefaultListener.
type ListenerConfig struct {
	// Name is recorded as tapline.listener; empty means the address.
	Name    string            `yaml:"name"`
	Address string            `yaml:"address"`
	TLS     ListenerTLSConfig `yaml:"tls"`
	// DisableHTTP2 offers only HTTP/1.1 in ALPN.
	DisableHTTP2 bool `yaml:"disable_http2"`
	// HandshakeTimeout bounds the TLS handshake.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout and WriteTimeout bound a whole request and response;
	// 0 (the default) leaves them unbounded for streaming and WebSockets.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds request headers; MaxBodyBytes request bodies
	// (413 beyond).
	MaxHeaderBytes configtype.ByteSize `yaml:"max_header_bytes"`
	MaxBodyBytes   configtype.ByteSize `yaml:"max_body_bytes"`
}

// ListenerTLSConfig is a listener's TLS and mTLS set-up. The files are
// re-read every ReloadInterval and swapped in when they change; connections
// already open keep going.
type ListenerTLSConfig struct {
	// Cert and Key are the server certificate (chain) and key, PEM.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA is the PEM bundle of CAs client certificates must chain to.
	ClientCA string `yaml:"client_ca"`
	// ClientAuth is require (default), verify_if_given or none.
	ClientAuth string `yaml:"client_auth"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// CipherSuites limits TLS 1.2 cipher suites (IANA names as Go spells
	// them); empty means Go's defaults. TLS 1.3 suites are not configurable.
	CipherSuites []string `yaml:"cipher_suites"`
	// ServerNames, when set, refuses handshakes whose SNI names anything
	// else ("*.example.com" matches one label). A handshake without SNI
	// (a client dialling an IP) is served.
	ServerNames []string `yaml:"server_names"`
	// ReloadInterval is how often the files are checked for changes.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// UpstreamConfig is a service behind the proxy.
type UpstreamConfig struct {
	Name string `yaml:"name"`
	// URL is http://host:port (FastAPI/uvicorn); a path is prefixed to
	// every forwarded path.
	URL string `yaml:"url"`
	// H2C speaks HTTP/2 without TLS (prior knowledge) to the upstream.
	// WebSockets need HTTP/1.1 upstreams.
	H2C                   bool          `yaml:"h2c"`
	DialTimeout           time.Duration `yaml:"dial_timeout"`
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"`
	IdleConnTimeout       time.Duration `yaml:"idle_conn_timeout"`
	MaxIdleConns          int           `yaml:"max_idle_conns"`
}

// RouteConfig sends requests matching Host and PathPrefix to an upstream,
// under a policy. The longest matching prefix wins; for equal prefixes a
// route with a Host beats one without.
type RouteConfig struct {
	Name string `yaml:"name"`
	// Host is matched against the request's host without port: exact, or
	// "*.example.com" for one label; empty matches any host.
	Host string `yaml:"host"`
	// PathPrefix matches whole segments: "/api" matches /api and /api/x,
	// not /apix. Default "/".
	PathPrefix string        `yaml:"path_prefix"`
	Upstream   string        `yaml:"upstream"`
	Policy     policy.Config `yaml:"policy"`
}

// IdentityConfig configures the sources of identity besides the client
// certificate.
type IdentityConfig struct {
	// JWT enables bearer-token validation; nil means tokens are not checked.
	JWT *identity.JWTConfig `yaml:"jwt"`
	// TrustedProxies are the direct peers whose x-forwarded-client-cert
	// and X-Request-ID are believed.
	TrustedProxies identity.TrustedProxiesConfig `yaml:"trusted_proxies"`
}

// Default returns the proxy section's defaults: one listener on
// 127.0.0.1:8443 requiring client certificates, TLS 1.2 or later. Routes
// and upstreams have no defaults.
func Default() Config {
	// Empty lists rather than nil ones, so that a printed configuration
	// reads back as the same value.
	return Config{
		ServiceName: "tapline-proxy",
		Listeners:   []ListenerConfig{DefaultListener()},
		Upstreams:   []UpstreamConfig{},
		Routes:      []RouteConfig{},
		Identity: IdentityConfig{TrustedProxies: identity.TrustedProxiesConfig{
			CIDRs: []string{}, SPIFFEIDs: []string{},
		}},
		Tap: tap.DefaultConfig(),
	}
}

// DefaultListener returns a listener's defaults.
func DefaultListener() ListenerConfig {
	return ListenerConfig{
		Address: DefaultAddress,
		TLS: ListenerTLSConfig{
			ClientAuth:     ClientAuthRequire,
			MinVersion:     "1.2",
			CipherSuites:   []string{},
			ServerNames:    []string{},
			ReloadInterval: 5 * time.Second,
		},
		HandshakeTimeout:  10 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      32 << 20,
	}
}

// DefaultUpstream returns an upstream's defaults.
func DefaultUpstream() UpstreamConfig {
	return UpstreamConfig{
		DialTimeout:           5 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
	}
}

// UnmarshalYAML starts a listener written in YAML from the defaults.
func (l *ListenerConfig) UnmarshalYAML(n *yaml.Node) error {
	type listener ListenerConfig
	v := listener(DefaultListener())
	if err := yamlfields.DecodeStrict(n, &v); err != nil {
		return err
	}
	*l = ListenerConfig(v)
	return nil
}

// UnmarshalYAML starts an upstream written in YAML from the defaults.
func (u *UpstreamConfig) UnmarshalYAML(n *yaml.Node) error {
	type upstream UpstreamConfig
	v := upstream(DefaultUpstream())
	if err := yamlfields.DecodeStrict(n, &v); err != nil {
		return err
	}
	*u = UpstreamConfig(v)
	return nil
}

// withDefaults fills what was left zero (a listener built in Go rather than
// read from YAML, say) from the defaults.
func (c Config) withDefaults() Config {
	c.Listeners = slices.Clone(c.Listeners)
	dl := DefaultListener()
	for i := range c.Listeners {
		l := &c.Listeners[i]
		setDefault(&l.Address, dl.Address)
		setDefault(&l.TLS.ClientAuth, dl.TLS.ClientAuth)
		setDefault(&l.TLS.MinVersion, dl.TLS.MinVersion)
		setDefault(&l.TLS.ReloadInterval, dl.TLS.ReloadInterval)
		setDefault(&l.HandshakeTimeout, dl.HandshakeTimeout)
		setDefault(&l.ReadHeaderTimeout, dl.ReadHeaderTimeout)
		setDefault(&l.IdleTimeout, dl.IdleTimeout)
		setDefault(&l.MaxHeaderBytes, dl.MaxHeaderBytes)
		setDefault(&l.MaxBodyBytes, dl.MaxBodyBytes)
		setDefault(&l.Name, l.Address)
	}
	c.Upstreams = slices.Clone(c.Upstreams)
	du := DefaultUpstream()
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		setDefault(&u.DialTimeout, du.DialTimeout)
		setDefault(&u.ResponseHeaderTimeout, du.ResponseHeaderTimeout)
		setDefault(&u.IdleConnTimeout, du.IdleConnTimeout)
		setDefault(&u.MaxIdleConns, du.MaxIdleConns)
	}
	c.Routes = slices.Clone(c.Routes)
	for i := range c.Routes {
		setDefault(&c.Routes[i].PathPrefix, "/")
		setDefault(&c.Routes[i].Name, fmt.Sprintf("route-%d", i))
	}
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Configured reports whether the section describes a proxy at all: the
// defaults alone (no upstreams, no routes) do not, and a process that does
// not run the proxy has nothing to check here.
func (c Config) Configured() bool { return len(c.Upstreams) > 0 || len(c.Routes) > 0 }

// Validate checks the section when it is Configured. Keys in errors are
// relative to it ("listeners[0].tls.client_ca"); the top-level
// configuration prefixes "proxy.".
func (c Config) Validate() error {
	if !c.Configured() {
		return nil
	}
	return c.validate()
}

// validate checks everything, configured or not: what New needs.
func (c Config) validate() error {
	c = c.withDefaults()
	var errs []error
	if c.ServiceName == "" {
		errs = append(errs, configtype.Errorf("service_name", "must not be empty"))
	}
	if len(c.Listeners) == 0 {
		errs = append(errs, configtype.Errorf("listeners", "must list at least one listener"))
	}
	names := map[string]bool{}
	for i, l := range c.Listeners {
		if names[l.Name] {
			errs = append(errs, configtype.Errorf(fmt.Sprintf("listeners[%d].name", i), "%q is used twice", l.Name))
		}
		names[l.Name] = true
		errs = append(errs, configtype.InSection(fmt.Sprintf("listeners[%d]", i), l.validate()))
	}
	ups := map[string]bool{}
	for i, u := range c.Upstreams {
		key := fmt.Sprintf("upstreams[%d]", i)
		if u.Name == "" {
			errs = append(errs, configtype.Errorf(key+".name", "must not be empty"))
		} else if ups[u.Name] {
			errs = append(errs, configtype.Errorf(key+".name", "%q is used twice", u.Name))
		}
		ups[u.Name] = true
		errs = append(errs, configtype.InSection(key, u.validate()))
	}
	if len(c.Routes) == 0 {
		errs = append(errs, configtype.Errorf("routes", "must list at least one route"))
	}
	routes := map[string]bool{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if routes[r.Name] {
			errs = append(errs, configtype.Errorf(key+".name", "%q is used twice", r.Name))
		}
		routes[r.Name] = true
		if !ups[r.Upstream] {
			errs = append(errs, configtype.Errorf(key+".upstream", "%q is not one of the upstreams", r.Upstream))
		}
		if !strings.HasPrefix(r.PathPrefix, "/") {
			errs = append(errs, configtype.Errorf(key+".path_prefix", "must start with /"))
		}
		if r.Host != "" && !validHostPattern(r.Host) {
			errs = append(errs, configtype.Errorf(key+".host", "%q is not a host name or *.domain", r.Host))
		}
		errs = append(errs, configtype.InSection(key+".policy", r.Policy.Validate()))
		if r.Policy.UsesJWT() && c.Identity.JWT == nil {
			errs = append(errs, configtype.Errorf(key+".policy", "a rule needs jwt, but identity.jwt is not configured"))
		}
	}
	if c.Identity.JWT != nil {
		errs = append(errs, configtype.InSection("identity.jwt", c.Identity.JWT.Validate()))
	}
	errs = append(errs, configtype.InSection("identity.trusted_proxies", c.Identity.TrustedProxies.Validate()))
	errs = append(errs, configtype.InSection("tap", c.Tap.Validate()))
	return errors.Join(errs...)
}

func (l ListenerConfig) validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(l.Address); err != nil {
		errs = append(errs, configtype.Errorf("address", "%q is not host:port", l.Address))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, configtype.Errorf("address", "invalid port %q", port))
	}
	errs = append(errs, configtype.InSection("tls", l.TLS.validate()))
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"handshake_timeout", l.HandshakeTimeout}, {"read_header_timeout", l.ReadHeaderTimeout}, {"idle_timeout", l.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, configtype.Errorf(d.key, "must be > 0"))
		}
	}
	if l.ReadTimeout < 0 {
		errs = append(errs, configtype.Errorf("read_timeout", "must be >= 0"))
	}
	if l.WriteTimeout < 0 {
		errs = append(errs, configtype.Errorf("write_timeout", "must be >= 0"))
	}
	if l.MaxHeaderBytes <= 0 || l.MaxHeaderBytes > 16<<20 {
		errs = append(errs, configtype.Errorf("max_header_bytes", "must be between 1 and 16MiB"))
	}
	if l.MaxBodyBytes <= 0 {
		errs = append(errs, configtype.Errorf("max_body_bytes", "must be > 0"))
	}
	return errors.Join(errs...)
}

func (t ListenerTLSConfig) validate() error {
	var errs []error
	if t.Cert == "" {
		errs = append(errs, configtype.Errorf("cert", "is required"))
	} else {
		errs = append(errs, configtype.Readable("cert", t.Cert))
	}
	if t.Key == "" {
		errs = append(errs, configtype.Errorf("key", "is required"))
	} else {
		errs = append(errs, configtype.Readable("key", t.Key))
	}
	switch t.ClientAuth {
	case ClientAuthRequire, ClientAuthVerifyIfGiven:
		if t.ClientCA == "" {
			errs = append(errs, configtype.Errorf("client_ca", "is required when client_auth is %s", t.ClientAuth))
		}
	case ClientAuthNone:
	default:
		errs = append(errs, configtype.Errorf("client_auth", "must be %s, %s or %s, not %q", ClientAuthRequire, ClientAuthVerifyIfGiven, ClientAuthNone, t.ClientAuth))
	}
	if t.ClientCA != "" {
		errs = append(errs, configtype.Readable("client_ca", t.ClientCA))
	}
	if _, err := parseMinVersion(t.MinVersion); err != nil {
		errs = append(errs, &configtype.FieldError{Key: "min_version", Err: err})
	}
	if _, err := parseCipherSuites(t.CipherSuites); err != nil {
		errs = append(errs, &configtype.FieldError{Key: "cipher_suites", Err: err})
	}
	for i, n := range t.ServerNames {
		if !validHostPattern(n) {
			errs = append(errs, configtype.Errorf(fmt.Sprintf("server_names[%d]", i), "%q is not a host name or *.domain", n))
		}
	}
	if t.ReloadInterval <= 0 {
		errs = append(errs, configtype.Errorf("reload_interval", "must be > 0"))
	}
	return errors.Join(errs...)
}

func (u UpstreamConfig) validate() error {
	var errs []error
	p, err := url.Parse(u.URL)
	switch {
	case u.URL == "":
		errs = append(errs, configtype.Errorf("url", "is required"))
	case err != nil:
		errs = append(errs, configtype.Errorf("url", "%v", err))
	case p.Scheme != "http" || p.Host == "":
		errs = append(errs, configtype.Errorf("url", "%q must be http://host:port", u.URL))
	case p.RawQuery != "" || p.Fragment != "" || p.User != nil:
		errs = append(errs, configtype.Errorf("url", "%q must not hold a query, fragment or credentials", u.URL))
	}
	if u.DialTimeout <= 0 {
		errs = append(errs, configtype.Errorf("dial_timeout", "must be > 0"))
	}
	if u.ResponseHeaderTimeout <= 0 {
		errs = append(errs, configtype.Errorf("response_header_timeout", "must be > 0"))
	}
	if u.IdleConnTimeout <= 0 {
		errs = append(errs, configtype.Errorf("idle_conn_timeout", "must be > 0"))
	}
	if u.MaxIdleConns <= 0 {
		errs = append(errs, configtype.Errorf("max_idle_conns", "must be > 0"))
	}
	return errors.Join(errs...)
}

func parseMinVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	default:
		return 0, fmt.Errorf("must be 1.2 or 1.3, not %q", s)
	}
}

// parseCipherSuites maps names to ids, refusing insecure and unknown suites.
func parseCipherSuites(names []string) ([]uint16, error) {
	var ids []uint16
	var errs []error
	for _, n := range names {
		found := false
		for _, cs := range tls.CipherSuites() {
			if cs.Name == n {
				found = true
				if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
					ids = append(ids, cs.ID)
				} else {
					errs = append(errs, fmt.Errorf("%q is a TLS 1.3 suite; those are not configurable", n))
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%q is not a secure TLS 1.2 cipher suite known to Go", n))
		}
	}
	return ids, errors.Join(errs...)
}

func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
