package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/proxy/internal/yamlfields"
)

// Machine-readable reasons a bearer token was not accepted. They appear in
// the identity chain, in policy decisions and in 403 bodies.
const (
	ReasonJWTMalformed       = "jwt-malformed"
	ReasonJWTAlgorithm       = "jwt-algorithm-not-allowed"
	ReasonJWTUnknownKey      = "jwt-unknown-key"
	ReasonJWTKeysUnavailable = "jwt-keys-unavailable"
	ReasonJWTSignature       = "jwt-signature-invalid"
	ReasonJWTExpired         = "jwt-expired"
	ReasonJWTNotYetValid     = "jwt-not-yet-valid"
	ReasonJWTIssuedAt        = "jwt-issued-in-future"
	ReasonJWTExpiryMissing   = "jwt-expiry-missing"
	ReasonJWTIssuer          = "jwt-issuer-invalid"
	ReasonJWTAudience        = "jwt-audience-invalid"
	ReasonJWTNotConfigured   = "jwt-not-configured"
)

// TokenError says why a bearer token was refused.
type TokenError struct {
	Reason string // one of the ReasonJWT* codes
	Err    error
}

func (e *TokenError) Error() string {
	if e.Err == nil {
		return "jwt: " + e.Reason
	}
	return "jwt: " + e.Reason + ": " + e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

func tokenErr(reason string, err error) error { return &TokenError{Reason: reason, Err: err} }

// TokenReason returns the reason code of a token validation error, or
// ReasonJWTMalformed for an error that is not a *TokenError.
func TokenReason(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ReasonJWTMalformed
}

// Token is a validated bearer token.
type Token struct {
	Issuer    string
	Subject   string
	Audience  []string
	Scopes    []string
	Expiry    time.Time
	KeyID     string
	Algorithm string
	claims    jwt.Token
}

// Claim returns the values of a claim as strings: a string claim gives one
// value, an array of strings its elements, a number or bool its text form.
// A missing claim gives nil.
func (t *Token) Claim(name string) []string {
	if t == nil || t.claims == nil {
		return nil
	}
	var v any
	if err := t.claims.Get(name, &v); err != nil {
		return nil
	}
	return claimStrings(v)
}

func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case nil:
		return nil
	default:
		return []string{fmt.Sprint(v)}
	}
}

// JWTConfig configures bearer-token validation.
type JWTConfig struct {
	// Issuer is the required `iss` claim.
	Issuer string `yaml:"issuer"`
	// Audiences: the token's `aud` must name at least one of them.
	Audiences []string `yaml:"audiences"`
	// JWKSFile or JWKSURL (exactly one) holds the public keys.
	JWKSFile string `yaml:"jwks_file"`
	JWKSURL  string `yaml:"jwks_url"`
	// Algorithms allowed in the token header. Only asymmetric algorithms may
	// be listed; `none` and HMAC are always refused.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew accepted on exp, nbf and iat.
	Leeway time.Duration `yaml:"leeway"`
	// RequireExpiry refuses tokens without an `exp` claim.
	RequireExpiry bool `yaml:"require_expiry"`
	// RefreshInterval is how often the key set is re-read.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MinRefreshInterval bounds re-reads triggered by an unknown key id.
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"`
	// FetchTimeout bounds one fetch of JWKSURL.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
	// ScopeClaims are the claims read as scopes (space-separated string or
	// array), in order.
	ScopeClaims []string `yaml:"scope_claims"`
}

// DefaultJWTConfig returns the defaults for the fields a user leaves out.
func DefaultJWTConfig() JWTConfig {
	return JWTConfig{
		Algorithms:         []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"},
		Leeway:             30 * time.Second,
		RequireExpiry:      true,
		RefreshInterval:    5 * time.Minute,
		MinRefreshInterval: 10 * time.Second,
		FetchTimeout:       5 * time.Second,
		ScopeClaims:        []string{"scope", "scp"},
	}
}

// Validate checks the configuration. Keys in its errors are relative to the
// section ("issuer", "algorithms[1]").
func (c JWTConfig) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, configtype.Errorf("issuer", "is required"))
	}
	if len(c.Audiences) == 0 {
		errs = append(errs, configtype.Errorf("audiences", "must name at least one audience"))
	}
	if (c.JWKSFile == "") == (c.JWKSURL == "") {
		errs = append(errs, configtype.Errorf("jwks_file", "exactly one of jwks_file and jwks_url is required"))
	}
	if c.JWKSURL != "" && !strings.HasPrefix(c.JWKSURL, "https://") && !strings.HasPrefix(c.JWKSURL, "http://") {
		errs = append(errs, configtype.Errorf("jwks_url", "must be an http(s) URL"))
	}
	if len(c.Algorithms) == 0 {
		errs = append(errs, configtype.Errorf("algorithms", "must list at least one algorithm"))
	}
	for i, a := range c.Algorithms {
		alg, ok := jwa.LookupSignatureAlgorithm(a)
		switch {
		case !ok:
			errs = append(errs, configtype.Errorf(fmt.Sprintf("algorithms[%d]", i), "unknown algorithm %q", a))
		case alg == jwa.NoSignature() || alg.IsSymmetric():
			errs = append(errs, configtype.Errorf(fmt.Sprintf("algorithms[%d]", i), "%q is not allowed (only asymmetric signatures)", a))
		}
	}
	if c.Leeway < 0 {
		errs = append(errs, configtype.Errorf("leeway", "must be >= 0"))
	}
	if c.RefreshInterval <= 0 {
		errs = append(errs, configtype.Errorf("refresh_interval", "must be > 0"))
	}
	if c.MinRefreshInterval < 0 {
		errs = append(errs, configtype.Errorf("min_refresh_interval", "must be >= 0"))
	}
	if c.FetchTimeout <= 0 {
		errs = append(errs, configtype.Errorf("fetch_timeout", "must be > 0"))
	}
	return errors.Join(errs...)
}

// JWTValidator validates bearer tokens against a JWKS it keeps fresh.
type JWTValidator struct {
	cfg   JWTConfig
	algs  []jwa.SignatureAlgorithm
	keys  *keySet
	clock func() time.Time
}

// NewJWTValidator builds a validator; Start loads the keys.
func NewJWTValidator(cfg JWTConfig, clock func() time.Time) (*JWTValidator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	v := &JWTValidator{cfg: cfg, clock: clock}
	for _, a := range cfg.Algorithms {
		alg, _ := jwa.LookupSignatureAlgorithm(a)
		v.algs = append(v.algs, alg)
	}
	v.keys = newKeySet(cfg, clock)
	return v, nil
}

// Start loads the key set and keeps it fresh until Close. A JWKS file that
// cannot be read is an error; an unreachable JWKS URL is not (it is retried,
// and tokens fail with jwt-keys-unavailable meanwhile).
func (v *JWTValidator) Start(ctx context.Context) error { return v.keys.start(ctx) }

// Close stops refreshing the key set.
func (v *JWTValidator) Close() { v.keys.close() }

// Validate checks a compact JWS bearer token: allowed algorithm, known key,
// signature, then exp/nbf/iat (with leeway), issuer and audience. The error
// is a *TokenError.
func (v *JWTValidator) Validate(ctx context.Context, raw string) (*Token, error) {
	buf := []byte(raw)
	msg, err := jws.Parse(buf, jws.WithCompact())
	if err != nil {
		return nil, tokenErr(ReasonJWTMalformed, err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, tokenErr(ReasonJWTMalformed, fmt.Errorf("%d signatures", len(sigs)))
	}
	hdr := sigs[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok || !slices.Contains(v.algs, alg) {
		return nil, tokenErr(ReasonJWTAlgorithm, fmt.Errorf("alg %q", alg.String()))
	}
	kid, _ := hdr.KeyID()
	key, err := v.keys.lookup(ctx, kid, alg)
	if err != nil {
		return nil, err
	}
	tok, err := jwt.Parse(buf, jwt.WithKey(alg, key), jwt.WithValidate(false))
	if err != nil {
		if errors.Is(err, jws.VerifyError()) || errors.Is(err, jws.VerificationError()) {
			return nil, tokenErr(ReasonJWTSignature, err)
		}
		return nil, tokenErr(ReasonJWTMalformed, err)
	}
	opts := []jwt.ValidateOption{
		jwt.WithClock(jwt.ClockFunc(v.clock)),
		jwt.WithAcceptableSkew(v.cfg.Leeway),
	}
	if v.cfg.RequireExpiry {
		opts = append(opts, jwt.WithRequiredClaim("exp"))
	}
	if err := jwt.Validate(tok, opts...); err != nil {
		switch {
		case errors.Is(err, jwt.TokenExpiredError()):
			return nil, tokenErr(ReasonJWTExpired, err)
		case errors.Is(err, jwt.TokenNotYetValidError()):
			return nil, tokenErr(ReasonJWTNotYetValid, err)
		case errors.Is(err, jwt.InvalidIssuedAtError()):
			return nil, tokenErr(ReasonJWTIssuedAt, err)
		case errors.Is(err, jwt.MissingRequiredClaimError()):
			return nil, tokenErr(ReasonJWTExpiryMissing, err)
		default:
			return nil, tokenErr(ReasonJWTMalformed, err)
		}
	}
	out := &Token{KeyID: kid, Algorithm: alg.String(), claims: tok}
	out.Issuer, _ = tok.Issuer()
	out.Subject, _ = tok.Subject()
	out.Audience, _ = tok.Audience()
	out.Expiry, _ = tok.Expiration()
	if out.Issuer != v.cfg.Issuer {
		return nil, tokenErr(ReasonJWTIssuer, fmt.Errorf("iss %q", out.Issuer))
	}
	if !slices.ContainsFunc(out.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return nil, tokenErr(ReasonJWTAudience, fmt.Errorf("aud %q", out.Audience))
	}
	for _, c := range v.cfg.ScopeClaims {
		for _, s := range out.Claim(c) {
			out.Scopes = append(out.Scopes, strings.Fields(s)...)
		}
	}
	return out, nil
}

// keyFor checks that a key may verify alg: when the JWKS pins an algorithm
// on the key, it must be the token's.
func keyFor(k jwk.Key, alg jwa.SignatureAlgorithm) bool {
	ka, ok := k.Algorithm()
	return !ok || ka.String() == alg.String()
}

// UnmarshalYAML starts a jwt section written in YAML from the defaults.
func (c *JWTConfig) UnmarshalYAML(n *yaml.Node) error {
	type jwtConfig JWTConfig
	v := jwtConfig(DefaultJWTConfig())
	if err := yamlfields.DecodeStrict(n, &v); err != nil {
		return err
	}
	*c = JWTConfig(v)
	return nil
}
