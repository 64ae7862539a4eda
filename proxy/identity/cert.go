package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Cert is what the tap records about a client certificate.
type Cert struct {
	// SPIFFEID is set when the certificate is an X509-SVID: exactly one URI
	// SAN, and that URI a valid SPIFFE ID.
	SPIFFEID string `json:"spiffe_id,omitempty"`
	// Subject and Issuer are distinguished names in RFC 2253 form.
	Subject string `json:"subject,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	// Serial is the serial number in uppercase hex, two digits per byte
	// (as OpenSSL, and so nginx, print it).
	Serial string `json:"serial,omitempty"`
	// Fingerprint is the SHA-256 of the DER certificate in uppercase hex.
	Fingerprint string    `json:"sha256,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
}

// CertFromX509 extracts the recorded facts of a certificate.
func CertFromX509(c *x509.Certificate) Cert {
	sum := sha256.Sum256(c.Raw)
	out := Cert{
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		Fingerprint: strings.ToUpper(hex.EncodeToString(sum[:])),
		NotBefore:   c.NotBefore.UTC(),
		NotAfter:    c.NotAfter.UTC(),
	}
	if c.SerialNumber != nil {
		b := c.SerialNumber.Bytes()
		if len(b) == 0 {
			b = []byte{0}
		}
		out.Serial = strings.ToUpper(hex.EncodeToString(b))
	}
	// The X509-SVID specification allows exactly one URI SAN; a certificate
	// with more is not an SVID, whatever its first URI says.
	if len(c.URIs) == 1 {
		if id, err := spiffeid.FromURI(c.URIs[0]); err == nil {
			out.SPIFFEID = id.String()
		}
	}
	return out
}

// Principal returns the certificate's principal and its type: the SPIFFE ID
// for an SVID, else the subject DN.
func (c Cert) Principal() (id, typ string) {
	if c.SPIFFEID != "" {
		return c.SPIFFEID, typeSPIFFE
	}
	return c.Subject, typeCert
}
