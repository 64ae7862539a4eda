package clickhouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// Options configures the server engine. YAML keys in the struct tags; Logger
// and TLS.Config are set in code only.
type Options struct {
	// DSN is the server address in clickhouse-go's native-protocol form:
	// clickhouse://user:password@host:9000[,host2:9000]/database?dial_timeout=5s&secure=true
	DSN string `yaml:"dsn"`
	// Database overrides the DSN's database; empty and no database in the
	// DSN means "tapline". Open creates it when it does not exist.
	Database string `yaml:"database"`
	// Username and Password override the DSN's credentials when set.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS secures the connection (also turned on by secure=true in the DSN).
	TLS TLSOptions `yaml:"tls"`
	// Cluster is the cluster name for ON CLUSTER DDL; empty for one node.
	// Open uses it to create the database on every node.
	Cluster string `yaml:"cluster"`
	// MaxConns caps open connections (default 10).
	MaxConns int `yaml:"max_conns"`
	// DialTimeout bounds connecting to a server (default 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// Logger receives the engine's few log lines; nil discards them.
	Logger *slog.Logger `yaml:"-"`
}

// TLSOptions configures TLS to the server: either a ready *tls.Config, or
// files. Setting any field turns TLS on.
type TLSOptions struct {
	// Enabled turns TLS on with the system roots when no other field is set.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the server certificate.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify skips verifying the server certificate. For tests.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Config, when set, is used as is and the fields above are ignored.
	Config *tls.Config `yaml:"-"`
}

func (t TLSOptions) on() bool {
	return t.Config != nil || t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" ||
		t.ServerName != "" || t.InsecureSkipVerify
}

const (
	defaultDatabase    = "tapline"
	defaultMaxConns    = 10
	defaultDialTimeout = 10 * time.Second
)

var (
	identRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clusterRE = regexp.MustCompile(`^[A-Za-z0-9_.{}-]+$`)
)

// Validate checks the options without connecting and names the YAML key
// at fault.
func (o Options) Validate() error {
	var errs []error
	if strings.TrimSpace(o.DSN) == "" {
		errs = append(errs, errors.New("dsn is required (clickhouse://host:9000/database)"))
	} else if _, err := parseDSN(o.DSN); err != nil {
		errs = append(errs, err)
	}
	if o.Database != "" && !identRE.MatchString(o.Database) {
		errs = append(errs, fmt.Errorf("database %q must be letters, digits and underscores, not starting with a digit", o.Database))
	}
	if o.Cluster != "" && !clusterRE.MatchString(o.Cluster) {
		errs = append(errs, fmt.Errorf("cluster %q must be letters, digits, '_', '.', '-' or a {macro}", o.Cluster))
	}
	if o.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("max_conns must be >= 0, got %d", o.MaxConns))
	}
	if o.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial_timeout must be >= 0, got %s", o.DialTimeout))
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls.cert_file and tls.key_file must be set together"))
	}
	return errors.Join(errs...)
}

// parseDSN parses a native-protocol DSN, refusing the HTTP protocol (this
// engine speaks native only). Errors never repeat the DSN: it may hold a
// password.
func parseDSN(dsn string) (*ch.Options, error) {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, errors.New("dsn must start with clickhouse:// or tcp://")
	}
	switch strings.ToLower(scheme) {
	case "clickhouse", "tcp":
	default:
		return nil, fmt.Errorf("dsn scheme %q is not supported: use clickhouse:// (native protocol)", scheme)
	}
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("dsn is not valid: %w", redact(err, dsn))
	}
	if opts.Protocol != ch.Native {
		return nil, errors.New("dsn selects the HTTP protocol: this engine speaks the native protocol only")
	}
	return opts, nil
}

// redact removes the DSN's password from an error's text.
func redact(err error, dsn string) error {
	_, rest, _ := strings.Cut(dsn, "://")
	userinfo, _, found := strings.Cut(rest, "@")
	if !found {
		return err
	}
	_, password, hasPassword := strings.Cut(userinfo, ":")
	if !hasPassword || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// driverOptions builds clickhouse-go's options: the DSN first, then the
// explicit fields over it.
func (o Options) driverOptions() (*ch.Options, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts, err := parseDSN(o.DSN)
	if err != nil {
		return nil, err
	}
	if o.Database != "" {
		opts.Auth.Database = o.Database
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = defaultDatabase
	}
	if !identRE.MatchString(opts.Auth.Database) {
		return nil, fmt.Errorf("dsn database %q must be letters, digits and underscores", opts.Auth.Database)
	}
	if o.Username != "" {
		opts.Auth.Username = o.Username
	}
	if o.Password != "" {
		opts.Auth.Password = o.Password
	}
	if o.TLS.on() {
		cfg, err := o.TLS.build(opts.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLS = cfg
	}
	opts.MaxOpenConns = o.MaxConns
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = defaultMaxConns
	}
	if opts.MaxIdleConns == 0 || opts.MaxIdleConns > opts.MaxOpenConns {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	if o.DialTimeout > 0 {
		opts.DialTimeout = o.DialTimeout
	} else if opts.DialTimeout == 0 || opts.DialTimeout == 30*time.Second {
		opts.DialTimeout = defaultDialTimeout
	}
	opts.Logger = o.Logger
	// Parameters and DateTime text without a zone are read as UTC, as in
	// chDB: store.FormatParam writes times in UTC.
	if opts.Settings == nil {
		opts.Settings = ch.Settings{}
	}
	opts.Settings["session_timezone"] = "UTC"
	opts.ClientInfo.Products = append(opts.ClientInfo.Products, struct{ Name, Version string }{"tapline", ""})
	return opts, nil
}

// build makes the *tls.Config. base is what the DSN asked for (secure=true,
// skip_verify, tls_server_name), or nil.
func (t TLSOptions) build(base *tls.Config) (*tls.Config, error) {
	if t.Config != nil {
		return t.Config.Clone(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("tls.cert_file and tls.key_file must be set together")
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/tls.key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.ServerName != "" {
		cfg.ServerName = t.ServerName
	}
	if t.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}
