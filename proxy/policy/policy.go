package policy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
)

// Modes of a policy.
const (
	ModeEnforce = "enforce" // a refusal is a deny: 403
	ModeObserve = "observe" // a refusal is recorded as observe; the request passes
)

// Reasons of decisions. Token refusals use the identity.ReasonJWT* codes.
const (
	ReasonNoPolicy         = "no-policy"
	ReasonSPIFFEAllowed    = "spiffe-id-allowed"
	ReasonJWTAllowed       = "jwt-allowed"
	ReasonSPIFFEJWTAllowed = "spiffe-id-and-jwt-allowed"
	ReasonCertRequired     = "client-certificate-required"
	ReasonSPIFFERequired   = "spiffe-id-required"
	ReasonSPIFFENotAllowed = "spiffe-id-not-allowed"
	ReasonJWTRequired      = "jwt-required"
	ReasonJWTScopeMissing  = "jwt-scope-missing"
	ReasonJWTClaimMismatch = "jwt-claim-mismatch"
)

// Config is a route's policy as written in YAML.
type Config struct {
	// Name is recorded with every decision; empty means the route's name.
	Name string `yaml:"name"`
	// Mode is enforce (default) or observe.
	Mode string `yaml:"mode"`
	// Allow lists the rules; any one matching allows.
	Allow []Rule `yaml:"allow"`
}

// Rule allows a caller when all its conditions hold.
type Rule struct {
	// SPIFFEIDs: the caller's SPIFFE ID must match one of these patterns
	// (see identity.SPIFFEPattern).
	SPIFFEIDs []string `yaml:"spiffe_ids"`
	// JWT: the caller must present a valid bearer token with these scopes
	// and claims.
	JWT *JWTRule `yaml:"jwt"`
}

// JWTRule lists what a valid token must carry.
type JWTRule struct {
	// Scopes must all be granted.
	Scopes []string `yaml:"scopes"`
	// Claims: each named claim must hold (or, for an array, contain) one of
	// the listed values.
	Claims map[string][]string `yaml:"claims"`
}

// IsZero reports whether no policy is configured.
func (c Config) IsZero() bool { return c.Name == "" && c.Mode == "" && len(c.Allow) == 0 }

// UsesJWT reports whether any rule needs bearer tokens.
func (c Config) UsesJWT() bool {
	return slices.ContainsFunc(c.Allow, func(r Rule) bool { return r.JWT != nil })
}

// Validate checks the policy; keys in errors are relative ("allow[0].jwt").
func (c Config) Validate() error {
	_, err := Compile(c, "validate")
	return err
}

// Policy is a compiled Config.
type Policy struct {
	name    string
	observe bool
	rules   []rule
}

type rule struct {
	spiffe []identity.SPIFFEPattern
	jwt    *JWTRule
}

// Compile checks and compiles a policy; defaultName names it when the
// config does not. A zero Config gives a policy that allows everyone.
func Compile(c Config, defaultName string) (*Policy, error) {
	p := &Policy{name: c.Name}
	if p.name == "" {
		p.name = defaultName
	}
	if c.IsZero() {
		return p, nil
	}
	var errs []error
	switch c.Mode {
	case "", ModeEnforce:
	case ModeObserve:
		p.observe = true
	default:
		errs = append(errs, configtype.Errorf("mode", "must be %s or %s, not %q", ModeEnforce, ModeObserve, c.Mode))
	}
	if len(c.Allow) == 0 {
		errs = append(errs, configtype.Errorf("allow", "must list at least one rule (leave the policy out to let every caller in)"))
	}
	for i, r := range c.Allow {
		key := fmt.Sprintf("allow[%d]", i)
		if len(r.SPIFFEIDs) == 0 && r.JWT == nil {
			errs = append(errs, configtype.Errorf(key, "a rule needs spiffe_ids, jwt or both"))
		}
		cr := rule{jwt: r.JWT}
		for j, s := range r.SPIFFEIDs {
			pat, err := identity.ParseSPIFFEPattern(s)
			if err != nil {
				errs = append(errs, &configtype.FieldError{Key: fmt.Sprintf("%s.spiffe_ids[%d]", key, j), Err: err})
				continue
			}
			cr.spiffe = append(cr.spiffe, pat)
		}
		if r.JWT != nil {
			for name, vals := range r.JWT.Claims {
				if len(vals) == 0 {
					errs = append(errs, configtype.Errorf(fmt.Sprintf("%s.jwt.claims.%s", key, name), "must list at least one value"))
				}
			}
		}
		p.rules = append(p.rules, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the policy's name.
func (p *Policy) Name() string { return p.name }

// Decision is the outcome for one request.
type Decision struct {
	// Decision is event.DecisionAllow, DecisionDeny or DecisionObserve.
	Decision string
	// Reason is machine readable: why it allowed, or why it refused.
	Reason string
	// Policy is the policy's name.
	Policy string
}

// Forward reports whether the request goes on to the upstream.
func (d Decision) Forward() bool { return d.Decision != event.DecisionDeny }

// Evaluate decides for one caller.
func (p *Policy) Evaluate(id *identity.Result) Decision {
	if len(p.rules) == 0 {
		return Decision{Decision: event.DecisionAllow, Reason: ReasonNoPolicy, Policy: p.name}
	}
	refuse := func(reason string) Decision {
		d := event.DecisionDeny
		if p.observe {
			d = event.DecisionObserve
		}
		return Decision{Decision: d, Reason: reason, Policy: p.name}
	}
	if id.TokenPresent && id.TokenReason != "" {
		return refuse(id.TokenReason)
	}
	first := ""
	for _, r := range p.rules {
		allow, reason := r.match(id)
		if allow {
			return Decision{Decision: event.DecisionAllow, Reason: reason, Policy: p.name}
		}
		if first == "" {
			first = reason
		}
	}
	return refuse(first)
}

func (r rule) match(id *identity.Result) (bool, string) {
	if len(r.spiffe) > 0 {
		switch {
		case !id.CertPresented:
			return false, ReasonCertRequired
		case id.SPIFFEID == "":
			return false, ReasonSPIFFERequired
		case !identity.AnySPIFFEPattern(r.spiffe, id.SPIFFEID):
			return false, ReasonSPIFFENotAllowed
		}
	}
	if r.jwt != nil {
		if id.Token == nil {
			return false, ReasonJWTRequired
		}
		for _, s := range r.jwt.Scopes {
			if !slices.Contains(id.Token.Scopes, s) {
				return false, ReasonJWTScopeMissing
			}
		}
		for name, want := range r.jwt.Claims {
			have := id.Token.Claim(name)
			if !slices.ContainsFunc(have, func(v string) bool { return slices.Contains(want, v) }) {
				return false, ReasonJWTClaimMismatch
			}
		}
	}
	switch {
	case len(r.spiffe) > 0 && r.jwt != nil:
		return true, ReasonSPIFFEJWTAllowed
	case r.jwt != nil:
		return true, ReasonJWTAllowed
	default:
		return true, ReasonSPIFFEAllowed
	}
}
