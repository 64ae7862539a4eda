package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// TrustDomain is the SPIFFE trust domain of the demo's identities.
const TrustDomain = "tapline.demo"

// Files of the directory Ensure fills. Every certificate NAME has NAME.pem
// and NAME-key.pem.
const (
	// CA is the certificate authority that signs everything; ClientsCA is
	// the same certificate under the name Nginx's configuration uses for the
	// CAs it accepts client certificates from.
	CA        = "ca"
	ClientsCA = "clients-ca"
	// Server is Nginx's public certificate; Proxy the proxy tap's.
	Server = "server"
	Proxy  = "proxy"
)

// A Cert is one certificate the demo issues.
type Cert struct {
	// Name is the file name stem and the caller's short name.
	Name string
	// SPIFFEID, if set, is the only URI SAN (an X509-SVID).
	SPIFFEID string
	// CommonName and Organization make the subject.
	CommonName   string
	Organization string
	// Expired certificates ended a day before they were made.
	Expired bool
	// Server certificates carry the host names and addresses.
	Server bool
}

// SPIFFE returns the SPIFFE ID of a workload in the demo's trust domain.
func SPIFFE(namespace, account string) string {
	return "spiffe://" + TrustDomain + "/ns/" + namespace + "/sa/" + account
}

// The client certificates of the demo.
var (
	// NginxClient is Nginx's own certificate towards the proxy.
	NginxClient = Cert{Name: "nginx-client", SPIFFEID: SPIFFE("edge", "nginx"), CommonName: "nginx", Organization: "Tapline Demo"}
	// Checkout is a shop workload the policy allows.
	Checkout = Cert{Name: "checkout", SPIFFEID: SPIFFE("shop", "checkout"), CommonName: "checkout", Organization: "Tapline Demo"}
	// LegacyCart is allowed by the policy but revoked in the compliance
	// configuration.
	LegacyCart = Cert{Name: "legacy-cart", SPIFFEID: SPIFFE("shop", "legacy-cart"), CommonName: "legacy-cart", Organization: "Tapline Demo"}
	// Reporting is a batch job the policy denies.
	Reporting = Cert{Name: "reporting", SPIFFEID: SPIFFE("batch", "reporting"), CommonName: "reporting", Organization: "Tapline Demo"}
	// AdminConsole is the one caller allowed on /admin.
	AdminConsole = Cert{Name: "admin-console", SPIFFEID: SPIFFE("ops", "admin-console"), CommonName: "admin-console", Organization: "Tapline Demo"}
	// Inventory's certificate has expired.
	Inventory = Cert{Name: "inventory-expired", SPIFFEID: SPIFFE("shop", "inventory"), CommonName: "inventory", Organization: "Tapline Demo", Expired: true}
	// Partner is an outside caller with a plain certificate at the edge.
	Partner = Cert{Name: "partner", CommonName: "partner-api", Organization: "Acme Partner Ltd"}
)

// Clients lists every client certificate Ensure writes.
func Clients() []Cert {
	return []Cert{NginxClient, Checkout, LegacyCart, Reporting, AdminConsole, Inventory, Partner}
}

// Dir is a directory of demo certificates.
type Dir string

// CertFile and KeyFile are the PEM files of the certificate named name.
func (d Dir) CertFile(name string) string { return filepath.Join(string(d), name+".pem") }

// KeyFile is the private key of the certificate named name.
func (d Dir) KeyFile(name string) string { return filepath.Join(string(d), name+"-key.pem") }

// DefaultHosts are the names the server certificates are valid for: the
// loopback names and the service names compose.yaml uses.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1", "nginx", "proxy", "tapline-proxy"}

// Ensure makes the certificates in dir unless its CA exists already (then
// the files are kept as they are: a later run reuses them). hosts are the
// DNS names and IP addresses of the server certificates; nil means
// DefaultHosts. It reports whether it made them.
func Ensure(dir string, hosts []string, now time.Time) (bool, error) {
	d := Dir(dir)
	if _, err := os.Stat(d.CertFile(CA)); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("certificates: %w", err)
	}
	if hosts == nil {
		hosts = DefaultHosts
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("certificates: %w", err)
	}
	ca, caKey, err := newCA(now)
	if err != nil {
		return false, err
	}
	certs := append([]Cert{
		{Name: Server, CommonName: hosts[0], Organization: "Tapline Demo", Server: true},
		{Name: Proxy, CommonName: "tapline-proxy", Organization: "Tapline Demo", Server: true},
	}, Clients()...)
	for _, c := range certs {
		der, key, err := issue(c, hosts, ca, caKey, now)
		if err != nil {
			return false, fmt.Errorf("certificate %s: %w", c.Name, err)
		}
		if err := write(d, c.Name, der, key); err != nil {
			return false, err
		}
	}
	if err := write(d, ClientsCA, ca.Raw, nil); err != nil {
		return false, err
	}
	// The CA last: its presence says the directory is complete.
	if err := write(d, CA, ca.Raw, caKey); err != nil {
		return false, err
	}
	return true, nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("ca key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "Tapline Demo CA", Organization: []string{"Tapline Demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: TrustDomain}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	return ca, key, nil
}

func issue(c Cert, hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: c.CommonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if c.Organization != "" {
		tmpl.Subject.Organization = []string{c.Organization}
	}
	if c.Expired {
		tmpl.NotBefore, tmpl.NotAfter = now.AddDate(0, 0, -30), now.AddDate(0, 0, -1)
	}
	if c.SPIFFEID != "" {
		u, err := url.Parse(c.SPIFFEID)
		if err != nil {
			return nil, nil, err
		}
		tmpl.URIs = []*url.URL{u}
	}
	if c.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	return der, key, err
}

func write(d Dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	if key != nil {
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("certificate %s: %w", name, err)
		}
		if err := os.WriteFile(d.KeyFile(name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
			return fmt.Errorf("certificate %s: %w", name, err)
		}
	}
	if err := os.WriteFile(d.CertFile(name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("certificate %s: %w", name, err)
	}
	return nil
}

// serial is a random positive 127-bit serial number.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// ClientTLS is a TLS client configuration that trusts the demo CA and, if
// client is not empty, presents the client certificate of that name.
func (d Dir) ClientTLS(client string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(d.CertFile(CA))
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("certificates: no certificate in %s", d.CertFile(CA))
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if client != "" {
		pair, err := tls.LoadX509KeyPair(d.CertFile(client), d.KeyFile(client))
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", client, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
