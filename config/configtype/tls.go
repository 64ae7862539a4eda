package configtype

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSClient is how a client (Tapline talking to NATS or ClickHouse) sets up
// TLS. An empty TLSClient with Enabled false means plain text, unless the
// server address itself asks for TLS (nats tls://, clickhouse secure=true).
type TLSClient struct {
	// Enabled turns TLS on. Setting CA, Cert or ServerName turns it on too.
	Enabled bool `yaml:"enabled"`
	// CA is a PEM file of the certificate authorities to trust instead of
	// the system pool.
	CA string `yaml:"ca"`
	// Cert and Key are a PEM client certificate and its key, for mTLS.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName overrides the name checked in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns off certificate verification. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// IsEnabled reports whether any TLS setting is given.
func (c TLSClient) IsEnabled() bool {
	return c.Enabled || c.CA != "" || c.Cert != "" || c.ServerName != "" || c.InsecureSkipVerify
}

// Validate checks that cert and key come together and that the files can be
// read. Keys in errors are relative: "cert", "key", "ca".
func (c TLSClient) Validate() error {
	var errs []error
	errs = append(errs, validatePair(c.Cert, c.Key)...)
	if c.CA != "" {
		errs = append(errs, Readable("ca", c.CA))
	}
	return errors.Join(errs...)
}

// Load builds a *tls.Config, or returns nil when TLS is not enabled.
func (c TLSClient) Load() (*tls.Config, error) {
	if !c.IsEnabled() {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as tests only
	}
	if c.CA != "" {
		pool, err := loadPool(c.CA)
		if err != nil {
			return nil, &FieldError{Key: "ca", Err: err}
		}
		cfg.RootCAs = pool
	}
	if c.Cert != "" {
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, &FieldError{Key: "cert", Err: fmt.Errorf("load key pair: %w", err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// TLSServer is how a Tapline listener serves TLS. Empty Cert means plain
// text.
type TLSServer struct {
	// Cert and Key are the server's PEM certificate (chain) and key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, requires clients to present a certificate signed
	// by one of these PEM authorities (mTLS).
	ClientCA string `yaml:"client_ca"`
}

// IsEnabled reports whether the listener serves TLS.
func (c TLSServer) IsEnabled() bool { return c.Cert != "" || c.Key != "" }

// Validate checks that cert and key come together and can be read, and that
// client_ca is only given with a certificate.
func (c TLSServer) Validate() error {
	var errs []error
	errs = append(errs, validatePair(c.Cert, c.Key)...)
	if c.ClientCA != "" {
		if !c.IsEnabled() {
			errs = append(errs, Errorf("client_ca", "needs cert and key"))
		} else {
			errs = append(errs, Readable("client_ca", c.ClientCA))
		}
	}
	return errors.Join(errs...)
}

// Load builds a *tls.Config, or returns nil when TLS is not enabled.
func (c TLSServer) Load() (*tls.Config, error) {
	if !c.IsEnabled() {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, &FieldError{Key: "cert", Err: fmt.Errorf("load key pair: %w", err)}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if c.ClientCA != "" {
		pool, err := loadPool(c.ClientCA)
		if err != nil {
			return nil, &FieldError{Key: "client_ca", Err: err}
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func validatePair(cert, key string) []error {
	switch {
	case cert == "" && key == "":
		return nil
	case cert == "":
		return []error{Errorf("cert", "required when key is set")}
	case key == "":
		return []error{Errorf("key", "required when cert is set")}
	}
	return []error{Readable("cert", cert), Readable("key", key)}
}

// Readable checks that the file at path can be opened for reading; the error
// names key.
func Readable(key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &FieldError{Key: key, Err: fmt.Errorf("cannot read %q: %w", path, unwrapPath(err))}
	}
	return f.Close()
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%q holds no PEM certificate", path)
	}
	return pool, nil
}
