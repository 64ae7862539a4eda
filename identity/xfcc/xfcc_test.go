package xfcc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   []Element
	}{
		{name: "empty", header: "", want: nil},
		{name: "blank", header: "  ", want: nil},
		{
			name:   "envoy docs example, URI only",
			header: `By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`,
			want: []Element{{
				By:      "http://frontend.lyft.com",
				Hash:    "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688",
				Subject: "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client",
				URI:     "http://testclient.lyft.com",
				URIs:    []string{"http://testclient.lyft.com"},
			}},
		},
		{
			name:   "two hops, DNS repeated",
			header: `By=http://frontend.lyft.com;Hash=aa;URI=http://testclient.lyft.com, By=http://backend.lyft.com;Hash=bb;URI=http://frontend.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
			want: []Element{
				{By: "http://frontend.lyft.com", Hash: "aa", URI: "http://testclient.lyft.com", URIs: []string{"http://testclient.lyft.com"}},
				{By: "http://backend.lyft.com", Hash: "bb", URI: "http://frontend.lyft.com", URIs: []string{"http://frontend.lyft.com"}, DNS: []string{"lyft.com", "www.lyft.com"}},
			},
		},
		{
			name:   "istio sidecar",
			header: `By=spiffe://cluster.local/ns/shop/sa/api;Hash=0a1b2c;Subject="";URI=spiffe://cluster.local/ns/shop/sa/web`,
			want: []Element{{
				By:   "spiffe://cluster.local/ns/shop/sa/api",
				Hash: "0a1b2c",
				URI:  "spiffe://cluster.local/ns/shop/sa/web",
				URIs: []string{"spiffe://cluster.local/ns/shop/sa/web"},
			}},
		},
		{
			name:   "quoted subject with comma, semicolon, escaped quote",
			header: `Subject="CN=a\"b,O=x;y=z";Hash=01`,
			want:   []Element{{Subject: `CN=a"b,O=x;y=z`, Hash: "01"}},
		},
		{
			name:   "multiple URI SANs, unknown key ignored, spaces around separators",
			header: ` URI=spiffe://td/a ; URI=https://b ; Future=1 `,
			want:   []Element{{URI: "spiffe://td/a", URIs: []string{"spiffe://td/a", "https://b"}}},
		},
		{
			name:   "keys case-insensitive",
			header: `hash=ff;uri=spiffe://td/x`,
			want:   []Element{{Hash: "ff", URI: "spiffe://td/x", URIs: []string{"spiffe://td/x"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.header)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.header, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tt.header, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   error
	}{
		{"no equals", "Hash", ErrSyntax},
		{"empty key", "=x", ErrSyntax},
		{"space in key", "Ha sh=x", ErrSyntax},
		{"unterminated quote", `Subject="CN=x`, ErrSyntax},
		{"trailing backslash", `Subject="CN=x\`, ErrSyntax},
		{"garbage after quoted value", `Subject="a"b;Hash=1`, ErrSyntax},
		{"equals in unquoted value", "URI=a=b", ErrSyntax},
		{"empty element", "Hash=1,,Hash=2", ErrSyntax},
		{"trailing comma", "Hash=1,", ErrSyntax},
		{"duplicate hash", "Hash=1;Hash=2", ErrDuplicateKey},
		{"duplicate subject, other case", `Subject="a";subject="b"`, ErrDuplicateKey},
		{"bad url encoding", `Cert="%zz"`, ErrEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.header)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, %v; want error %v", tt.header, got, err, tt.want)
			}
			if got != nil {
				t.Fatalf("Parse(%q) returned elements with an error: %v", tt.header, got)
			}
		})
	}
}

// TestCertRoundTrip checks that a real certificate survives URL encoding in
// Cert and Chain, including the '+' and '/' of base64, and that Hash matches.
func TestCertRoundTrip(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example.org/ns/default/sa/client")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1f2e3d),
		Subject:      pkix.Name{CommonName: "client", Organization: []string{"Acme, Inc."}},
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_800_000_000, 0),
		URIs:         []*url.URL{spiffe},
		DNSNames:     []string{"client.example.org"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	sum := sha256.Sum256(der)
	want := Element{
		By:      "spiffe://example.org/ns/default/sa/server",
		Hash:    hex.EncodeToString(sum[:]),
		Cert:    certPEM,
		Chain:   certPEM + certPEM,
		Subject: "CN=client,O=Acme\\, Inc.",
		URI:     spiffe.String(),
		URIs:    []string{spiffe.String()},
		DNS:     []string{"client.example.org"},
	}
	header := Format([]Element{want})
	got, err := Parse(header)
	if err != nil {
		t.Fatalf("Parse(Format(...)): %v\nheader: %s", err, header)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("round trip\n got %#v\nwant %#v", got, want)
	}
	block, _ := pem.Decode([]byte(got[0].Cert))
	if block == nil {
		t.Fatal("Cert is not PEM after decoding")
	}
	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.SerialNumber.Cmp(tmpl.SerialNumber) != 0 {
		t.Fatalf("serial %v, want %v", parsed.SerialNumber, tmpl.SerialNumber)
	}
	if id := got[0].SPIFFEID(); id != spiffe.String() {
		t.Fatalf("SPIFFEID() = %q", id)
	}
}

func TestSPIFFEID(t *testing.T) {
	tests := []struct {
		uris []string
		want string
	}{
		{nil, ""},
		{[]string{"https://a"}, ""},
		{[]string{"https://a", "spiffe://td/w"}, "spiffe://td/w"},
		{[]string{"SPIFFE://td/w"}, "SPIFFE://td/w"},
		{[]string{"spiffe://"}, ""},
	}
	for _, tt := range tests {
		if got := (Element{URIs: tt.uris}).SPIFFEID(); got != tt.want {
			t.Errorf("SPIFFEID(%v) = %q, want %q", tt.uris, got, tt.want)
		}
	}
}
