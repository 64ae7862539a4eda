package checks

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/event"
)

// Config holds every check's parameters (thresholds, allow-lists, declared
// sets). YAML key: compliance.checks. An empty allow-list or declared set a
// check needs makes that check report error ("not configured"), never pass.
type Config struct {
	PeerIdentity       PeerIdentity       `yaml:"peer_identity"`
	TLSMinVersion      TLSMinVersion      `yaml:"tls_min_version"`
	TLSCiphers         TLSCiphers         `yaml:"tls_ciphers"`
	CertExpiry         CertExpiry         `yaml:"cert_expiry"`
	HandshakeFailures  HandshakeFailures  `yaml:"handshake_failures"`
	PrivateRouteAuth   PrivateRouteAuth   `yaml:"private_route_auth"`
	JWTAllowlist       JWTAllowlist       `yaml:"jwt_allowlist"`
	RevokedIdentities  RevokedIdentities  `yaml:"revoked_identities"`
	PrivilegedRoutes   PrivilegedRoutes   `yaml:"privileged_routes"`
	AuthFailureSpikes  AuthFailureSpikes  `yaml:"auth_failure_spikes"`
	AllowedFlows       AllowedFlows       `yaml:"allowed_flows"`
	IngressTLS         IngressTLS         `yaml:"ingress_tls"`
	LoggingCoverage    LoggingCoverage    `yaml:"logging_coverage"`
	IngestCompleteness IngestCompleteness `yaml:"ingest_completeness"`
	ClockSkew          ClockSkew          `yaml:"clock_skew"`
	Retention          Retention          `yaml:"retention"`
}

// PeerIdentity configures check 1.
type PeerIdentity struct {
	// Sources are the access-event sources that carry service-to-service
	// traffic.
	Sources []string `yaml:"sources"`
	// TrustDomains are the SPIFFE trust domains accepted ("example.org").
	TrustDomains []string `yaml:"trust_domains"`
	// MinShare is the least share (0..1) of a pair's requests per day that
	// must carry a verified identity.
	MinShare float64 `yaml:"min_share"`
}

// TLSMinVersion configures check 2.
type TLSMinVersion struct {
	// MinVersion is the lowest acceptable version ("1.2").
	MinVersion string `yaml:"min_version"`
	// EdgeSources are access-event sources whose TLS facts count alongside
	// the tap's connections.
	EdgeSources []string `yaml:"edge_sources"`
}

// TLSCiphers configures check 3.
type TLSCiphers struct {
	// Allowed are IANA cipher suite names.
	Allowed     []string `yaml:"allowed"`
	EdgeSources []string `yaml:"edge_sources"`
}

// CertExpiry configures check 4.
type CertExpiry struct {
	WarnDays int `yaml:"warn_days"`
	FailDays int `yaml:"fail_days"`
}

// HandshakeFailures configures check 5.
type HandshakeFailures struct {
	BaselineDays int     `yaml:"baseline_days"`
	Factor       float64 `yaml:"factor"`
	MinRate      float64 `yaml:"min_rate"`
	MinFailures  int     `yaml:"min_failures"`
}

// PrivateRouteAuth configures check 6.
type PrivateRouteAuth struct {
	// PublicRoutes are route or path patterns ('*' matches anything) that
	// need no authentication.
	PublicRoutes []string `yaml:"public_routes"`
}

// JWTAllowlist configures check 7.
type JWTAllowlist struct {
	Issuers []string `yaml:"issuers"`
	// Audiences, when set, must contain one of a token's audiences.
	Audiences []string `yaml:"audiences"`
}

// RevokedIdentities configures check 8. Revocations also come from the
// compliance_revocations table.
type RevokedIdentities struct {
	// File is a revocation list: one "identity,revoked_at[,reason]" per
	// line (RFC 3339 time), '#' starts a comment.
	File    string       `yaml:"file"`
	Revoked []Revocation `yaml:"revoked"`
}

// Revocation is one revoked identity: a principal, SPIFFE ID, certificate
// serial or fingerprint, or JWT subject.
type Revocation struct {
	Identity  string    `yaml:"identity"`
	RevokedAt time.Time `yaml:"revoked_at"`
	Reason    string    `yaml:"reason"`
}

// PrivilegedRoutes configures check 9.
type PrivilegedRoutes struct {
	// Routes are route or path patterns ('*' wildcard).
	Routes []string `yaml:"routes"`
	// Principals are the privileged principals ('*' wildcard).
	Principals []string `yaml:"principals"`
}

// AuthFailureSpikes configures check 10.
type AuthFailureSpikes struct {
	WindowMinutes   int `yaml:"window_minutes"`
	MaxPerPrincipal int `yaml:"max_per_principal"`
	MaxPerService   int `yaml:"max_per_service"`
}

// AllowedFlows configures check 11.
type AllowedFlows struct {
	Sources []string `yaml:"sources"`
	Flows   []Flow   `yaml:"flows"`
}

// Flow is a declared caller → service flow ('*' wildcard in both).
type Flow struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// IngressTLS configures check 12.
type IngressTLS struct {
	EdgeSources []string `yaml:"edge_sources"`
	// AllowPlainRedirects accepts plain-HTTP requests answered with a
	// redirect (301, 302, 307, 308).
	AllowPlainRedirects bool `yaml:"allow_plain_redirects"`
	// InternalServices are service name patterns that must not be reached
	// from outside.
	InternalServices []string `yaml:"internal_services"`
	// InternalNetworks are the CIDR ranges clients count as inside.
	InternalNetworks []string `yaml:"internal_networks"`
}

// LoggingCoverage configures check 13.
type LoggingCoverage struct {
	ObservedSources []string `yaml:"observed_sources"`
	// ExcludeServices are service name patterns without application
	// telemetry by design (the edge itself).
	ExcludeServices []string `yaml:"exclude_services"`
}

// IngestCompleteness configures check 14.
type IngestCompleteness struct {
	MaxGap         time.Duration `yaml:"max_gap"`
	MaxDeadLetters int           `yaml:"max_dead_letters"`
}

// ClockSkew configures check 15.
type ClockSkew struct {
	MaxFuture   time.Duration `yaml:"max_future"`
	MaxLag      time.Duration `yaml:"max_lag"`
	MaxSpanSkew time.Duration `yaml:"max_span_skew"`
}

// Retention configures check 16.
type Retention struct {
	Tables []string      `yaml:"tables"`
	Slack  time.Duration `yaml:"slack"`
}

// Waiver accepts the exceptions of one check whose subject matches, found
// on days before Expires. Waived exceptions are shown as such in every
// output; an expired waiver covers nothing.
type Waiver struct {
	ID            string    `yaml:"id"`
	Check         string    `yaml:"check"`
	Subject       string    `yaml:"subject"` // '*' wildcard; empty matches every subject
	Justification string    `yaml:"justification"`
	Approver      string    `yaml:"approver"`
	Approved      time.Time `yaml:"approved"`
	Expires       time.Time `yaml:"expires"`
}

// DefaultCipherSuites are the IANA names of the TLS 1.3 suites and the
// TLS 1.2 ECDHE suites with AEAD ciphers.
var DefaultCipherSuites = []string{
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// Default returns the default parameters.
func Default() Config {
	internal := []string{event.SourceMesh, event.SourceTap}
	edge := []string{event.SourceNginx, event.SourceMesh}
	// Lists are empty rather than nil, so that a printed configuration
	// loads back the same.
	return Config{
		PeerIdentity:      PeerIdentity{Sources: internal, TrustDomains: []string{}, MinShare: 1},
		TLSMinVersion:     TLSMinVersion{MinVersion: "1.2", EdgeSources: edge},
		TLSCiphers:        TLSCiphers{Allowed: slices.Clone(DefaultCipherSuites), EdgeSources: slices.Clone(edge)},
		CertExpiry:        CertExpiry{WarnDays: 30, FailDays: 7},
		HandshakeFailures: HandshakeFailures{BaselineDays: 7, Factor: 3, MinRate: 0.05, MinFailures: 20},
		PrivateRouteAuth:  PrivateRouteAuth{PublicRoutes: []string{"/healthz", "/readyz", "/livez"}},
		JWTAllowlist:      JWTAllowlist{Issuers: []string{}, Audiences: []string{}},
		RevokedIdentities: RevokedIdentities{Revoked: []Revocation{}},
		PrivilegedRoutes:  PrivilegedRoutes{Routes: []string{}, Principals: []string{}},
		AuthFailureSpikes: AuthFailureSpikes{WindowMinutes: 10, MaxPerPrincipal: 20, MaxPerService: 100},
		AllowedFlows:      AllowedFlows{Sources: slices.Clone(internal), Flows: []Flow{}},
		IngressTLS: IngressTLS{
			EdgeSources:         []string{event.SourceNginx},
			AllowPlainRedirects: true,
			InternalServices:    []string{},
			InternalNetworks:    []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7"},
		},
		LoggingCoverage:    LoggingCoverage{ObservedSources: []string{event.SourceNginx, event.SourceMesh}, ExcludeServices: []string{}},
		IngestCompleteness: IngestCompleteness{MaxGap: 15 * time.Minute},
		ClockSkew:          ClockSkew{MaxFuture: 2 * time.Second, MaxLag: 10 * time.Minute, MaxSpanSkew: 100 * time.Millisecond},
		Retention:          Retention{Tables: slices.Clone(RetentionTables), Slack: time.Hour},
	}
}

// RetentionTables are the evidence tables check 16 can look at.
var RetentionTables = []string{"otel_traces", "otel_logs", "access_events", "tls_connections", "ingest_ledger"}

var (
	sources   = []string{event.SourceNginx, event.SourceMesh, event.SourceTap, event.SourceApp, event.SourceAPI}
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// Validate checks the parameters; keys in errors are relative to
// compliance.checks.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, configtype.Errorf(key, format, args...))
	}
	checkSources := func(key string, list []string) {
		for _, s := range list {
			if !slices.Contains(sources, s) {
				add(key, "%q is not one of %v", s, sources)
			}
		}
	}
	share := func(key string, v float64) {
		if v < 0 || v > 1 {
			add(key, "must be between 0 and 1, got %g", v)
		}
	}
	positive := func(key string, v int) {
		if v <= 0 {
			add(key, "must be > 0, got %d", v)
		}
	}
	checkSources("peer_identity.sources", c.PeerIdentity.Sources)
	share("peer_identity.min_share", c.PeerIdentity.MinShare)
	if !versionRE.MatchString(c.TLSMinVersion.MinVersion) {
		add("tls_min_version.min_version", "want a version like 1.2, got %q", c.TLSMinVersion.MinVersion)
	}
	checkSources("tls_min_version.edge_sources", c.TLSMinVersion.EdgeSources)
	checkSources("tls_ciphers.edge_sources", c.TLSCiphers.EdgeSources)
	positive("cert_expiry.fail_days", c.CertExpiry.FailDays)
	if c.CertExpiry.WarnDays < c.CertExpiry.FailDays {
		add("cert_expiry.warn_days", "must be >= fail_days (%d), got %d", c.CertExpiry.FailDays, c.CertExpiry.WarnDays)
	}
	positive("handshake_failures.baseline_days", c.HandshakeFailures.BaselineDays)
	if c.HandshakeFailures.Factor < 1 {
		add("handshake_failures.factor", "must be >= 1, got %g", c.HandshakeFailures.Factor)
	}
	share("handshake_failures.min_rate", c.HandshakeFailures.MinRate)
	if c.HandshakeFailures.MinFailures < 0 {
		add("handshake_failures.min_failures", "must be >= 0, got %d", c.HandshakeFailures.MinFailures)
	}
	for i, r := range c.RevokedIdentities.Revoked {
		if r.Identity == "" || r.RevokedAt.IsZero() {
			add(fmt.Sprintf("revoked_identities.revoked[%d]", i), "identity and revoked_at are required")
		}
	}
	positive("auth_failure_spikes.window_minutes", c.AuthFailureSpikes.WindowMinutes)
	positive("auth_failure_spikes.max_per_principal", c.AuthFailureSpikes.MaxPerPrincipal)
	positive("auth_failure_spikes.max_per_service", c.AuthFailureSpikes.MaxPerService)
	checkSources("allowed_flows.sources", c.AllowedFlows.Sources)
	for i, f := range c.AllowedFlows.Flows {
		if f.From == "" || f.To == "" {
			add(fmt.Sprintf("allowed_flows.flows[%d]", i), "from and to are required")
		}
	}
	checkSources("ingress_tls.edge_sources", c.IngressTLS.EdgeSources)
	for _, n := range c.IngressTLS.InternalNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			add("ingress_tls.internal_networks", "%q is not a CIDR prefix", n)
		}
	}
	checkSources("logging_coverage.observed_sources", c.LoggingCoverage.ObservedSources)
	if c.IngestCompleteness.MaxGap < time.Minute {
		add("ingest_completeness.max_gap", "must be at least 1m, got %s", c.IngestCompleteness.MaxGap)
	}
	if c.IngestCompleteness.MaxDeadLetters < 0 {
		add("ingest_completeness.max_dead_letters", "must be >= 0, got %d", c.IngestCompleteness.MaxDeadLetters)
	}
	for key, d := range map[string]time.Duration{
		"clock_skew.max_future": c.ClockSkew.MaxFuture, "clock_skew.max_lag": c.ClockSkew.MaxLag,
		"clock_skew.max_span_skew": c.ClockSkew.MaxSpanSkew, "retention.slack": c.Retention.Slack,
	} {
		if d < 0 {
			add(key, "must be >= 0, got %s", d)
		}
	}
	if len(c.Retention.Tables) == 0 {
		add("retention.tables", "must name at least one table")
	}
	for _, t := range c.Retention.Tables {
		if !slices.Contains(RetentionTables, t) {
			add("retention.tables", "%q is not one of %v", t, RetentionTables)
		}
	}
	return errors.Join(errs...)
}

// ValidateWaivers checks waivers against the known check ids; keys are
// relative to the compliance section ("waivers[0].expires").
func ValidateWaivers(ws []Waiver) error {
	var errs []error
	ids := map[string]bool{}
	for i, w := range ws {
		key := fmt.Sprintf("waivers[%d]", i)
		if w.ID == "" {
			errs = append(errs, configtype.Errorf(key+".id", "is required"))
		} else if ids[w.ID] {
			errs = append(errs, configtype.Errorf(key+".id", "%q is used twice", w.ID))
		}
		ids[w.ID] = true
		if !Known(w.Check) {
			errs = append(errs, configtype.Errorf(key+".check", "unknown check %q (known: %v)", w.Check, IDs()))
		}
		if w.Justification == "" {
			errs = append(errs, configtype.Errorf(key+".justification", "is required"))
		}
		if w.Approver == "" {
			errs = append(errs, configtype.Errorf(key+".approver", "is required"))
		}
		if w.Expires.IsZero() {
			errs = append(errs, configtype.Errorf(key+".expires", "is required (a waiver must expire)"))
		}
	}
	return errors.Join(errs...)
}
