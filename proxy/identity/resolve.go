package identity

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/identity/xfcc"
)

// Principal types, as recorded in tapline.principal.type.
const (
	typeSPIFFE    = event.PrincipalSPIFFE
	typeJWT       = event.PrincipalJWT
	typeCert      = event.PrincipalCert
	typeAnonymous = event.PrincipalAnonymous
)

// Sources of an identity in the chain.
const (
	SourceJWT  = "jwt"  // bearer token in Authorization
	SourceXFCC = "xfcc" // x-forwarded-client-cert from a trusted proxy
	SourcePeer = "peer" // client certificate of the TLS connection
)

// Reasons an x-forwarded-client-cert header was not believed.
const (
	ReasonXFCCUntrusted = "xfcc-untrusted-peer"
	ReasonXFCCMalformed = "xfcc-malformed"
	// ReasonXFCCFartherHop marks XFCC elements of hops before the nearest one.
	ReasonXFCCFartherHop = "xfcc-farther-hop"
)

// TrustedProxiesConfig names the proxies (mesh sidecars, nginx) whose
// x-forwarded-client-cert and X-Request-ID headers the tap believes. A direct
// peer is trusted when its address is in one of CIDRs or its verified client
// certificate's SPIFFE ID matches one of SPIFFEIDs.
type TrustedProxiesConfig struct {
	CIDRs     []string `yaml:"cidrs"`
	SPIFFEIDs []string `yaml:"spiffe_ids"`
}

// Validate checks the configuration; keys in its errors are relative
// ("cidrs[0]").
func (c TrustedProxiesConfig) Validate() error {
	_, err := NewTrustedProxies(c)
	return err
}

// TrustedProxies decides whether a direct peer is a trusted proxy.
type TrustedProxies struct {
	prefixes []netip.Prefix
	ids      []SPIFFEPattern
}

// NewTrustedProxies compiles the configuration.
func NewTrustedProxies(c TrustedProxiesConfig) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	var errs []error
	for i, s := range c.CIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			// A bare address means that one host.
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				errs = append(errs, configtype.Errorf(fmt.Sprintf("cidrs[%d]", i), "%q is not a CIDR or address", s))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	for i, s := range c.SPIFFEIDs {
		p, err := ParseSPIFFEPattern(s)
		if err != nil {
			errs = append(errs, &configtype.FieldError{Key: fmt.Sprintf("spiffe_ids[%d]", i), Err: err})
			continue
		}
		t.ids = append(t.ids, p)
	}
	return t, errors.Join(errs...)
}

// Trusts reports whether a peer at addr presenting a verified certificate
// with SPIFFE ID spiffeID (or "") is a trusted proxy.
func (t *TrustedProxies) Trusts(addr netip.Addr, spiffeID string) bool {
	if t == nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return AnySPIFFEPattern(t.ids, spiffeID)
}

// Entry is one identity seen on a request, as recorded in
// tapline.identity.chain.
type Entry struct {
	Source    string `json:"source"`
	Type      string `json:"type,omitempty"`
	ID        string `json:"id,omitempty"`
	Verified  bool   `json:"verified"`
	Principal bool   `json:"principal,omitempty"`
	// Reason says why the identity was not believed or not used.
	Reason string `json:"reason,omitempty"`

	SPIFFEID    string     `json:"spiffe_id,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	Issuer      string     `json:"issuer,omitempty"`
	Serial      string     `json:"serial,omitempty"`
	Fingerprint string     `json:"sha256,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`

	Audience []string   `json:"audience,omitempty"`
	Scopes   []string   `json:"scopes,omitempty"`
	Expiry   *time.Time `json:"expiry,omitempty"`

	// By is the proxy that added an XFCC element; Hop its position (0 = the
	// farthest hop).
	By  string `json:"by,omitempty"`
	Hop *int   `json:"hop,omitempty"`
}

// Result is who called, as far as the tap can tell.
type Result struct {
	// Principal and PrincipalType are the chosen identity (see the package
	// documentation for the precedence); PrincipalType is anonymous and
	// Principal empty when nobody was identified.
	Principal     string
	PrincipalType string
	// SPIFFEID is the calling workload's SPIFFE ID: from a trusted proxy's
	// XFCC when there is one, else from the connection's certificate.
	SPIFFEID string
	// CertPresented is true when the caller proved a certificate: the
	// connection's verified one, or one a trusted proxy asserted in XFCC.
	CertPresented bool
	// Token is the validated bearer token, nil if none or invalid.
	Token *Token
	// TokenPresent is true when a bearer token was sent and could be
	// checked; TokenReason then holds why it was refused, if it was.
	TokenPresent bool
	TokenReason  string
	// XFCCTrusted is true when an XFCC header from a trusted proxy was used.
	XFCCTrusted bool
	// Chain is every identity seen, in precedence order.
	Chain []Entry
}

// ChainJSON returns the chain as JSON for tapline.identity.chain.
func (r *Result) ChainJSON() string {
	if len(r.Chain) == 0 {
		return "[]"
	}
	return string(AppendChainJSON(nil, r.Chain))
}

// Request holds what Resolve reads about one request.
type Request struct {
	// Peer is the verified client certificate of the connection, or nil.
	Peer *Cert
	// PeerTrusted is true when the direct peer is a trusted proxy.
	PeerTrusted bool
	// Authorization and XFCC are the header values as received ("" if absent).
	Authorization string
	XFCC          string
}

// Resolver works out the identities of requests.
type Resolver struct {
	jwt *JWTValidator
}

// NewResolver returns a resolver; jwt may be nil when bearer tokens are not
// configured (a token is then recorded as not checked, and ignored).
func NewResolver(jwt *JWTValidator) *Resolver { return &Resolver{jwt: jwt} }

// Resolve records every identity of the request and picks the principal.
func (r *Resolver) Resolve(ctx context.Context, req Request) Result {
	var res Result
	chain := make([]Entry, 0, 3)

	if raw, ok := bearer(req.Authorization); ok {
		e := Entry{Source: SourceJWT, Type: typeJWT}
		switch {
		case r.jwt == nil:
			e.Reason = ReasonJWTNotConfigured
		default:
			res.TokenPresent = true
			tok, err := r.jwt.Validate(ctx, raw)
			if err != nil {
				res.TokenReason = TokenReason(err)
				e.Reason = res.TokenReason
			} else {
				res.Token = tok
				e.Verified = true
				e.ID = tok.Subject
				e.Issuer = tok.Issuer
				e.Audience = tok.Audience
				e.Scopes = tok.Scopes
				if !tok.Expiry.IsZero() {
					exp := tok.Expiry.UTC()
					e.Expiry = &exp
				}
			}
		}
		chain = append(chain, e)
	}

	if req.XFCC != "" {
		chain = appendXFCC(chain, &res, req)
	}

	if req.Peer != nil {
		id, typ := req.Peer.Principal()
		na := req.Peer.NotAfter
		chain = append(chain, Entry{
			Source: SourcePeer, Type: typ, ID: id, Verified: true,
			SPIFFEID: req.Peer.SPIFFEID, Subject: req.Peer.Subject, Issuer: req.Peer.Issuer,
			Serial: req.Peer.Serial, Fingerprint: req.Peer.Fingerprint, NotAfter: &na,
		})
		if !res.XFCCTrusted {
			res.SPIFFEID = req.Peer.SPIFFEID
			res.CertPresented = true
		}
	}

	res.PrincipalType = typeAnonymous
	for i := range chain {
		e := &chain[i]
		if e.Verified && e.Reason == "" && e.ID != "" {
			e.Principal = true
			res.Principal, res.PrincipalType = e.ID, e.Type
			break
		}
	}
	res.Chain = chain
	return res
}

// appendXFCC records the XFCC elements. From a trusted proxy the nearest
// hop's element (the last) names the caller; the others are kept for the
// record. From anyone else the header is noted and not believed.
func appendXFCC(chain []Entry, res *Result, req Request) []Entry {
	if !req.PeerTrusted {
		return append(chain, Entry{Source: SourceXFCC, Reason: ReasonXFCCUntrusted})
	}
	els, err := xfcc.Parse(req.XFCC)
	if err != nil {
		return append(chain, Entry{Source: SourceXFCC, Reason: ReasonXFCCMalformed})
	}
	if len(els) == 0 {
		return chain
	}
	res.XFCCTrusted = true
	res.CertPresented = true
	// Nearest hop first: it is the one the precedence looks at.
	for i := len(els) - 1; i >= 0; i-- {
		el := els[i]
		hop := i
		e := Entry{
			Source: SourceXFCC, Verified: true, By: el.By, Hop: &hop,
			Subject: el.Subject, Fingerprint: strings.ToUpper(el.Hash), SPIFFEID: el.SPIFFEID(),
		}
		switch {
		case e.SPIFFEID != "":
			e.Type, e.ID = typeSPIFFE, e.SPIFFEID
		case el.Subject != "":
			e.Type, e.ID = typeCert, el.Subject
		case el.Hash != "":
			e.Type, e.ID = typeCert, e.Fingerprint
		}
		if i != len(els)-1 {
			// Farther hops are history, not the caller of this hop.
			e.Verified = false
			e.Reason = ReasonXFCCFartherHop
		}
		chain = append(chain, e)
	}
	res.SPIFFEID = els[len(els)-1].SPIFFEID()
	return chain
}

// bearer extracts a bearer token from an Authorization value.
func bearer(auth string) (string, bool) {
	const prefix = "bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(auth[len(prefix):])
	return tok, tok != ""
}
