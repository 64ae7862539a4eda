package proxytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// SigningKey is one ES256 key of a JWT issuer.
type SigningKey struct {
	KID     string
	private jwk.Key
	public  jwk.Key
}

// NewSigningKey makes an ES256 key with the given key id.
func NewSigningKey(t testing.TB, kid string) *SigningKey {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa key: %v", err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatalf("import key: %v", err)
	}
	must(t, priv.Set(jwk.KeyIDKey, kid))
	must(t, priv.Set(jwk.AlgorithmKey, jwa.ES256()))
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	return &SigningKey{KID: kid, private: priv, public: pub}
}

// Claims of a test token. Zero times are left out of the token.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time
	Scope     string
	Extra     map[string]any
}

// Sign returns a compact ES256 token.
func (k *SigningKey) Sign(t testing.TB, c Claims) string {
	t.Helper()
	tok := jwt.New()
	set := func(name string, v any) { must(t, tok.Set(name, v)) }
	if c.Issuer != "" {
		set(jwt.IssuerKey, c.Issuer)
	}
	if c.Subject != "" {
		set(jwt.SubjectKey, c.Subject)
	}
	if len(c.Audience) > 0 {
		set(jwt.AudienceKey, c.Audience)
	}
	if !c.Expiry.IsZero() {
		set(jwt.ExpirationKey, c.Expiry)
	}
	if !c.NotBefore.IsZero() {
		set(jwt.NotBeforeKey, c.NotBefore)
	}
	set(jwt.IssuedAtKey, time.Now().Add(-time.Minute))
	if c.Scope != "" {
		set("scope", c.Scope)
	}
	for n, v := range c.Extra {
		set(n, v)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.private))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return string(b)
}

// UnsignedToken returns a token with `alg: none` and the given claims.
func UnsignedToken(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	must(t, err)
	body, err := json.Marshal(claims)
	must(t, err)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(hdr) + "." + enc.EncodeToString(body) + "."
}

// JWKS returns the JSON key set of the public keys.
func JWKS(t testing.TB, keys ...*SigningKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		must(t, set.AddKey(k.public))
	}
	b, err := json.Marshal(set)
	must(t, err)
	return b
}

// JWKSServer serves a key set over HTTP and lets a test rotate it.
type JWKSServer struct {
	URL     string
	mu      sync.Mutex
	body    []byte
	fetches int
}

// NewJWKSServer serves the keys at URL until the test ends.
func NewJWKSServer(t testing.TB, keys ...*SigningKey) *JWKSServer {
	t.Helper()
	s := &JWKSServer{body: JWKS(t, keys...)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		b := s.body
		s.fetches++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/jwks.json"
	return s
}

// Rotate replaces the served keys.
func (s *JWKSServer) Rotate(t testing.TB, keys ...*SigningKey) {
	t.Helper()
	b := JWKS(t, keys...)
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

// Fetches returns how many times the key set was fetched.
func (s *JWKSServer) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
