package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/event"
)

// handshakeError is a refusal decided by the proxy's own TLS hooks, with its
// reason already classified.
type handshakeError struct {
	reason string
	err    error
}

func (e *handshakeError) Error() string { return e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// tlsMaterial is one load of a listener's certificate, key and client CAs.
type tlsMaterial struct {
	cert tls.Certificate
	pool *x509.CertPool
	sum  [32]byte
}

// readTLSFiles reads the files and hashes their content, to tell whether
// anything changed since the last load.
func readTLSFiles(c ListenerTLSConfig) (cert, key, ca []byte, sum [32]byte, err error) {
	if cert, err = os.ReadFile(c.Cert); err != nil {
		return nil, nil, nil, sum, fmt.Errorf("read cert: %w", err)
	}
	if key, err = os.ReadFile(c.Key); err != nil {
		return nil, nil, nil, sum, fmt.Errorf("read key: %w", err)
	}
	if c.ClientCA != "" {
		if ca, err = os.ReadFile(c.ClientCA); err != nil {
			return nil, nil, nil, sum, fmt.Errorf("read client_ca: %w", err)
		}
	}
	h := sha256.New()
	for _, b := range [][]byte{cert, key, ca} {
		_, _ = fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	copy(sum[:], h.Sum(nil))
	return cert, key, ca, sum, nil
}

func parseTLSMaterial(cert, key, ca []byte, sum [32]byte) (*tlsMaterial, error) {
	kp, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("server certificate and key: %w", err)
	}
	m := &tlsMaterial{cert: kp, sum: sum}
	if len(bytes.TrimSpace(ca)) > 0 {
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("client_ca holds no PEM certificate")
		}
	}
	return m, nil
}

// listenerTLS builds and swaps a listener's TLS configuration. Handshakes
// read the current one through GetConfigForClient, so a reload applies to
// the next handshake and never touches open connections.
type listenerTLS struct {
	cfg        ListenerTLSConfig
	clientAuth tls.ClientAuthType
	minVersion uint16
	ciphers    []uint16
	nextProtos []string
	clock      func() time.Time
	logger     *slog.Logger
	onReload   func(ok bool)

	cur  atomic.Pointer[tlsState]
	base *tls.Config
}

type tlsState struct {
	material *tlsMaterial
	config   *tls.Config
}

func newListenerTLS(lc ListenerConfig, clock func() time.Time, logger *slog.Logger, onReload func(bool)) (*listenerTLS, error) {
	t := &listenerTLS{cfg: lc.TLS, clock: clock, logger: logger, onReload: onReload}
	var err error
	if t.minVersion, err = parseMinVersion(lc.TLS.MinVersion); err != nil {
		return nil, err
	}
	if t.ciphers, err = parseCipherSuites(lc.TLS.CipherSuites); err != nil {
		return nil, err
	}
	switch lc.TLS.ClientAuth {
	case ClientAuthRequire:
		t.clientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthVerifyIfGiven:
		t.clientAuth = tls.VerifyClientCertIfGiven
	default:
		t.clientAuth = tls.NoClientCert
	}
	t.nextProtos = []string{"h2", "http/1.1"}
	if lc.DisableHTTP2 {
		t.nextProtos = []string{"http/1.1"}
	}
	// The base configuration only dispatches; its automatic session ticket
	// keys are the ones Go uses for every returned configuration, so
	// tickets survive reloads (and are re-checked, see verifyResumed).
	t.base = &tls.Config{GetConfigForClient: t.configForClient, MinVersion: t.minVersion, Time: clock}
	return t, nil
}

// load reads the files and installs them when they changed. It reports
// whether it installed anything.
func (t *listenerTLS) load() (bool, error) {
	cert, key, ca, sum, err := readTLSFiles(t.cfg)
	if err != nil {
		return false, err
	}
	if old := t.cur.Load(); old != nil && old.material.sum == sum {
		return false, nil
	}
	m, err := parseTLSMaterial(cert, key, ca, sum)
	if err != nil {
		return false, err
	}
	if t.clientAuth != tls.NoClientCert && m.pool == nil {
		return false, errors.New("client_ca is required for client authentication")
	}
	st := &tlsState{material: m}
	st.config = &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		ClientCAs:    m.pool,
		ClientAuth:   t.clientAuth,
		MinVersion:   t.minVersion,
		CipherSuites: t.ciphers,
		NextProtos:   t.nextProtos,
		Time:         t.clock,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return t.verifyResumed(cs, m.pool)
		},
	}
	t.cur.Store(st)
	return true, nil
}

// verifyResumed re-checks the client certificate of a resumed session
// against the CA bundle and the clock of now, not of the session's first
// handshake: a session ticket must not outlive the certificate's expiry or
// its CA's removal. Full handshakes were verified by crypto/tls a moment
// ago with the same pool and clock.
func (t *listenerTLS) verifyResumed(cs tls.ConnectionState, pool *x509.CertPool) error {
	if !cs.DidResume || len(cs.PeerCertificates) == 0 || t.clientAuth == tls.NoClientCert {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   t.clock(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		reason, _ := classifyVerifyError(err, cs.PeerCertificates[0], t.clock())
		return &handshakeError{reason: reason, err: fmt.Errorf("resumed session: %w", err)}
	}
	return nil
}

// configForClient records what the ClientHello said and returns the current
// configuration, refusing server names the listener does not serve.
func (t *listenerTLS) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if tc, ok := hello.Conn.(*trackedConn); ok {
		tc.helloSeen = true
		tc.sni = hello.ServerName
		for _, v := range hello.SupportedVersions {
			tc.helloMax = max(tc.helloMax, v)
		}
	}
	if hello.ServerName != "" && len(t.cfg.ServerNames) > 0 && !matchServerName(t.cfg.ServerNames, hello.ServerName) {
		return nil, &handshakeError{reason: event.TLSFailureBadSNI, err: fmt.Errorf("tls: server name %q is not served here", hello.ServerName)}
	}
	return t.cur.Load().config, nil
}

func matchServerName(patterns []string, name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, p := range patterns {
		p = strings.ToLower(p)
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if i := strings.IndexByte(name, '.'); i > 0 && name[i+1:] == rest {
				return true
			}
			continue
		}
		if p == name {
			return true
		}
	}
	return false
}

// reloadLoop re-reads the files every interval until ctx is done.
func (t *listenerTLS) reloadLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			changed, err := t.load()
			switch {
			case err != nil:
				// Often a renewal caught between writing the certificate and
				// the key: keep serving the last good pair, retry next tick.
				t.logger.Warn("proxy: tls reload failed; keeping the current certificate", "err", err)
				t.onReload(false)
			case changed:
				t.logger.Info("proxy: tls files reloaded")
				t.onReload(true)
			}
		}
	}
}

// classifyHandshake turns a failed handshake into a reason from package
// event, the words to record, and the certificate the client presented.
func classifyHandshake(err error, tc *trackedConn, minVersion uint16, now time.Time) (reason string, presented *x509.Certificate) {
	var he *handshakeError
	var rhe tls.RecordHeaderError
	var cve *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return he.reason, nil
	case errors.As(err, &cve):
		var leaf *x509.Certificate
		if len(cve.UnverifiedCertificates) > 0 {
			leaf = cve.UnverifiedCertificates[0]
		}
		r, _ := classifyVerifyError(cve.Err, leaf, now)
		return r, leaf
	case errors.As(err, &rhe):
		return event.TLSFailureNotTLS, nil
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return event.TLSFailureTimeout, nil
	case tc.helloSeen && tc.helloMax != 0 && tc.helloMax < minVersion:
		return event.TLSFailureVersionTooLow, nil
	}
	// crypto/tls has no exported errors for these; its messages have been
	// stable for many releases, and the classification tests pin them.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return event.TLSFailureNoCertificate, nil
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "no ECDHE curve"), strings.Contains(msg, "no mutually supported"):
		return event.TLSFailureNoSharedCipher, nil
	case strings.Contains(msg, "unsupported versions"):
		return event.TLSFailureVersionTooLow, nil
	case !tc.helloSeen && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return event.TLSFailureNotTLS, nil
	}
	return event.TLSFailureOther, nil
}

// classifyVerifyError names an x509 verification failure.
func classifyVerifyError(err error, leaf *x509.Certificate, now time.Time) (string, error) {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return event.TLSFailureUnknownCA, err
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		if leaf != nil && now.Before(leaf.NotBefore) {
			return event.TLSFailureNotYetValid, err
		}
		return event.TLSFailureExpired, err
	default:
		return event.TLSFailureBadCertificate, err
	}
}

// tlsVersionName gives "1.2"/"1.3" as the conventions want.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "1.3"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS10:
		return "1.0"
	default:
		return ""
	}
}
