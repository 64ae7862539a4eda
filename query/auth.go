package query

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
)

// PrincipalTypeToken is the principal type of callers using a static API
// token (the others come from package event).
const PrincipalTypeToken = event.PrincipalToken

// Caller is who made a request, as authentication established it.
type Caller struct {
	// Principal is "token:NAME" for static tokens, the JWT subject for OIDC
	// tokens and empty for anonymous callers.
	Principal string
	// PrincipalType is PrincipalTypeToken, event.PrincipalJWT or
	// event.PrincipalAnonymous.
	PrincipalType string
	Role          string
	JWTIssuer     string
	JWTSubject    string
	JWTAudience   []string
	Scopes        []string
}

type callerKey struct{}

// CallerFromContext returns the authenticated caller of a request.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// methodRoles is the least role each method needs. Identities, TLS posture
// and pipeline health are audit material.
var methodRoles = map[string]string{
	taplinev1.TraceService_SearchTraces_FullMethodName:         RoleViewer,
	taplinev1.TraceService_GetTrace_FullMethodName:             RoleViewer,
	taplinev1.TraceService_GetRequest_FullMethodName:           RoleViewer,
	taplinev1.TraceService_ListServices_FullMethodName:         RoleViewer,
	taplinev1.TraceService_ListOperations_FullMethodName:       RoleViewer,
	taplinev1.TraceService_ListAttributeKeys_FullMethodName:    RoleViewer,
	taplinev1.EventService_SearchEvents_FullMethodName:         RoleViewer,
	taplinev1.EventService_GetIdentities_FullMethodName:        RoleAuditor,
	taplinev1.EventService_GetTlsPosture_FullMethodName:        RoleAuditor,
	taplinev1.PipelineService_GetPipelineHealth_FullMethodName: RoleAuditor,
}

// MethodRole returns the least role a full gRPC method name needs, or ""
// for methods that are not part of the query API.
func MethodRole(fullMethod string) string { return methodRoles[fullMethod] }

// Reasons recorded with denied requests.
const (
	reasonNoCredentials = "no-credentials"
	reasonBadCredential = "invalid-credentials"
	reasonRoleTooLow    = "role-insufficient"
	reasonAuthenticated = "authenticated"
	reasonAnonymous     = "anonymous-allowed"
)

// authError is an authentication failure with the reason recorded for it.
type authError struct {
	reason string
	err    error
}

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }
func (e *authError) GRPCStatus() *status.Status {
	return status.New(codes.Unauthenticated, e.err.Error())
}

type staticToken struct {
	name string
	sum  [sha256.Size]byte
	role string
}

// authenticator checks bearer tokens: static API tokens first, then OIDC
// JWTs against the issuer's JWKS.
type authenticator struct {
	cfg    AuthConfig
	tokens []staticToken
	cache  *jwk.Cache
	keys   jwk.Set
}

func newAuthenticator(cfg AuthConfig) (*authenticator, error) {
	a := &authenticator{cfg: cfg}
	for _, t := range cfg.Tokens {
		st := staticToken{name: t.Name, role: t.Role}
		if t.Token != "" {
			st.sum = sha256.Sum256([]byte(t.Token.Value()))
		} else {
			b, err := hex.DecodeString(t.SHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("auth token %q: sha256 is not 64 hex digits", t.Name)
			}
			copy(st.sum[:], b)
		}
		a.tokens = append(a.tokens, st)
	}
	return a, nil
}

// start begins fetching the issuer's keys; the server starts even when the
// issuer cannot be reached, and OIDC tokens are refused until it can.
func (a *authenticator) start(ctx context.Context, client *http.Client) error {
	if !a.cfg.OIDC.Enabled() {
		return nil
	}
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return fmt.Errorf("oidc: %w", err)
	}
	opts := []jwk.RegisterOption{jwk.WithWaitReady(false), jwk.WithMinInterval(a.cfg.OIDC.RefreshInterval)}
	if client != nil {
		opts = append(opts, jwk.WithHTTPClient(client))
	}
	if err := cache.Register(ctx, a.cfg.OIDC.JWKSURL, opts...); err != nil {
		return errors.Join(fmt.Errorf("oidc: register %s: %w", a.cfg.OIDC.JWKSURL, err), cache.Shutdown(ctx))
	}
	set, err := cache.CachedSet(a.cfg.OIDC.JWKSURL)
	if err != nil {
		return errors.Join(fmt.Errorf("oidc: %w", err), cache.Shutdown(ctx))
	}
	a.cache, a.keys = cache, set
	return nil
}

func (a *authenticator) stop(ctx context.Context) error {
	if a.cache == nil {
		return nil
	}
	err := a.cache.Shutdown(ctx)
	a.cache = nil
	return err
}

// authenticate turns an Authorization header value into a caller.
func (a *authenticator) authenticate(ctx context.Context, authorization string) (Caller, string, error) {
	if authorization == "" {
		if a.cfg.AllowAnonymous {
			return Caller{PrincipalType: event.PrincipalAnonymous, Role: a.cfg.AnonymousRole}, reasonAnonymous, nil
		}
		return Caller{}, reasonNoCredentials, &authError{reasonNoCredentials, errors.New("authentication required: send 'Authorization: Bearer <token>'")}
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return Caller{}, reasonBadCredential, &authError{reasonBadCredential, errors.New("authorization must be 'Bearer <token>'")}
	}
	sum := sha256.Sum256([]byte(token))
	var match *staticToken
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			match = &a.tokens[i]
		}
	}
	if match != nil {
		return Caller{Principal: "token:" + match.name, PrincipalType: PrincipalTypeToken, Role: match.role}, reasonAuthenticated, nil
	}
	if a.cfg.OIDC.Enabled() && strings.Count(token, ".") == 2 {
		c, err := a.verifyJWT(ctx, token)
		if err != nil {
			return Caller{}, reasonBadCredential, err
		}
		return c, reasonAuthenticated, nil
	}
	return Caller{}, reasonBadCredential, &authError{reasonBadCredential, errors.New("invalid token")}
}

func (a *authenticator) verifyJWT(_ context.Context, token string) (Caller, error) {
	if a.keys == nil {
		return Caller{}, status.Error(codes.Unavailable, "oidc keys not loaded yet")
	}
	o := a.cfg.OIDC
	tok, err := jwt.ParseString(token,
		jwt.WithKeySet(a.keys),
		jwt.WithValidate(true),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audience),
		jwt.WithAcceptableSkew(o.ClockSkew),
	)
	if err != nil {
		return Caller{}, &authError{reasonBadCredential, fmt.Errorf("invalid token: %w", err)}
	}
	c := Caller{PrincipalType: event.PrincipalJWT, JWTIssuer: o.Issuer}
	c.JWTSubject, _ = tok.Subject()
	c.Principal = c.JWTSubject
	c.JWTAudience, _ = tok.Audience()
	c.Scopes = claimStrings(tok, "scope")
	for _, v := range claimStrings(tok, o.RoleClaim) {
		r := v
		if mapped, ok := o.RoleMap[v]; ok {
			r = mapped
		}
		if roleRank(r) > roleRank(c.Role) {
			c.Role = r
		}
	}
	if c.Role == "" {
		c.Role = o.DefaultRole
	}
	if c.Role == "" {
		return Caller{}, status.Errorf(codes.PermissionDenied, "token carries no Tapline role in claim %q", o.RoleClaim)
	}
	return c, nil
}

// claimStrings reads a claim that is a string (space-separated, as "scope"
// is) or a list of strings.
func claimStrings(tok jwt.Token, name string) []string {
	if !tok.Has(name) {
		return nil
	}
	var raw any
	if err := tok.Get(name, &raw); err != nil {
		return nil
	}
	switch v := raw.(type) {
	case string:
		return strings.Fields(v)
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// authorize checks the caller's role against the method's.
func authorize(c Caller, fullMethod string) error {
	need := MethodRole(fullMethod)
	if need == "" {
		return status.Errorf(codes.PermissionDenied, "method %s is not part of the query API", fullMethod)
	}
	if roleRank(c.Role) < roleRank(need) {
		return status.Errorf(codes.PermissionDenied, "%s needs role %s or higher; the caller has %s", fullMethod, need, c.Role)
	}
	return nil
}
