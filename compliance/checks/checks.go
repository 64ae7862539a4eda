package checks

import (
	"embed"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// Query names, in the order a check runs them.
const (
	QueryPopulation = "population"
	QueryExceptions = "exceptions"
	QuerySamples    = "samples"
)

// spec is what one check runs.
type spec struct {
	id     string
	perDay bool
	// params returns the check's own parameters (the period, seed and
	// sample size are added by the runner), or notConfigured naming the
	// empty key the check needs.
	params func(c Config) (p store.Params, notConfigured string, err error)
	// custom, when set, replaces the SQL queries (evidence integrity).
	custom bool
	// lookbackDays is how many days before the period the check reads
	// (a baseline).
	lookbackDays func(c Config) int
	// populationOf, when set, is the check whose population queries this
	// one shares (the same requests, judged by another rule).
	populationOf string
}

// specs are the checks in catalogue order.
var specs = []spec{
	{id: "peer_identity", perDay: true, params: func(c Config) (store.Params, string, error) {
		if len(c.PeerIdentity.TrustDomains) == 0 {
			return nil, "peer_identity.trust_domains", nil
		}
		return store.Params{"sources": c.PeerIdentity.Sources, "trust_domains": c.PeerIdentity.TrustDomains,
			"min_share": c.PeerIdentity.MinShare}, "", nil
	}},
	{id: "tls_min_version", perDay: true, params: func(c Config) (store.Params, string, error) {
		return store.Params{"min_version": c.TLSMinVersion.MinVersion, "edge_sources": c.TLSMinVersion.EdgeSources}, "", nil
	}},
	{id: "tls_ciphers", perDay: true, populationOf: "tls_min_version", params: func(c Config) (store.Params, string, error) {
		if len(c.TLSCiphers.Allowed) == 0 {
			return nil, "tls_ciphers.allowed", nil
		}
		return store.Params{"allowed": c.TLSCiphers.Allowed, "edge_sources": c.TLSCiphers.EdgeSources}, "", nil
	}},
	{id: "cert_expiry", perDay: true, params: func(c Config) (store.Params, string, error) {
		return store.Params{"warn_days": uint32(c.CertExpiry.WarnDays), "fail_days": uint32(c.CertExpiry.FailDays)}, "", nil
	}},
	{id: "handshake_failures", perDay: true, params: func(c Config) (store.Params, string, error) {
		h := c.HandshakeFailures
		return store.Params{"baseline_days": uint32(h.BaselineDays), "factor": h.Factor, "min_rate": h.MinRate,
			"min_failures": uint64(h.MinFailures)}, "", nil
	}, lookbackDays: maxWindowDays},
	{id: "private_route_auth", perDay: true, params: func(c Config) (store.Params, string, error) {
		return store.Params{"public_routes": globRegexp(c.PrivateRouteAuth.PublicRoutes),
			"anonymous": event.PrincipalAnonymous, "deny": event.DecisionDeny}, "", nil
	}},
	{id: "jwt_allowlist", perDay: true, params: func(c Config) (store.Params, string, error) {
		if len(c.JWTAllowlist.Issuers) == 0 {
			return nil, "jwt_allowlist.issuers", nil
		}
		return store.Params{"issuers": c.JWTAllowlist.Issuers, "audiences": nonNil(c.JWTAllowlist.Audiences)}, "", nil
	}},
	{id: "revoked_identities", perDay: true, params: func(c Config) (store.Params, string, error) {
		revs := slices.Clone(c.RevokedIdentities.Revoked)
		if c.RevokedIdentities.File != "" {
			more, err := ReadRevocationFile(c.RevokedIdentities.File)
			if err != nil {
				return nil, "", err
			}
			revs = append(revs, more...)
		}
		ids, ats, reasons := []string{}, []time.Time{}, []string{}
		for _, r := range revs {
			ids = append(ids, r.Identity)
			ats = append(ats, r.RevokedAt.UTC().Truncate(time.Millisecond))
			reasons = append(reasons, r.Reason)
		}
		return store.Params{"identities": ids, "revoked_at": ats, "reasons": reasons}, "", nil
	}},
	{id: "privileged_routes", perDay: true, params: func(c Config) (store.Params, string, error) {
		if len(c.PrivilegedRoutes.Routes) == 0 {
			return nil, "privileged_routes.routes", nil
		}
		return store.Params{"routes": globRegexp(c.PrivilegedRoutes.Routes),
			"principals": globRegexp(c.PrivilegedRoutes.Principals), "deny": event.DecisionDeny}, "", nil
	}},
	{id: "auth_failure_spikes", perDay: true, params: func(c Config) (store.Params, string, error) {
		a := c.AuthFailureSpikes
		return store.Params{"window_minutes": uint32(a.WindowMinutes), "max_per_principal": uint64(a.MaxPerPrincipal),
			"max_per_service": uint64(a.MaxPerService)}, "", nil
	}},
	{id: "allowed_flows", perDay: true, params: func(c Config) (store.Params, string, error) {
		if len(c.AllowedFlows.Flows) == 0 {
			return nil, "allowed_flows.flows", nil
		}
		return store.Params{"sources": c.AllowedFlows.Sources, "flows": flowRegexp(c.AllowedFlows.Flows)}, "", nil
	}},
	{id: "ingress_tls", perDay: true, params: func(c Config) (store.Params, string, error) {
		i := c.IngressTLS
		return store.Params{"edge_sources": i.EdgeSources, "allow_redirects": i.AllowPlainRedirects,
			"internal_services": globRegexp(i.InternalServices), "internal_networks": nonNil(i.InternalNetworks)}, "", nil
	}},
	{id: "logging_coverage", perDay: true, params: func(c Config) (store.Params, string, error) {
		return store.Params{"observed_sources": c.LoggingCoverage.ObservedSources,
			"exclude_services": globRegexp(c.LoggingCoverage.ExcludeServices), "app_source": event.SourceApp}, "", nil
	}},
	{id: "ingest_completeness", perDay: true, params: func(c Config) (store.Params, string, error) {
		return store.Params{"max_gap_ms": uint64(c.IngestCompleteness.MaxGap.Milliseconds()),
			"max_dead_letters": uint64(c.IngestCompleteness.MaxDeadLetters)}, "", nil
	}},
	{id: "clock_skew", perDay: true, params: func(c Config) (store.Params, string, error) {
		s := c.ClockSkew
		return store.Params{"max_future_ms": s.MaxFuture.Milliseconds(), "max_lag_ms": s.MaxLag.Milliseconds(),
			"max_span_skew_ms": s.MaxSpanSkew.Milliseconds()}, "", nil
	}},
	{id: "retention", perDay: false, params: func(c Config) (store.Params, string, error) {
		return store.Params{"tables": c.Retention.Tables, "slack_ms": uint64(c.Retention.Slack.Milliseconds())}, "", nil
	}},
	{id: "evidence_integrity", perDay: false, custom: true},
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// IDs returns the check ids in catalogue order.
func IDs() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.id
	}
	return out
}

// Known reports whether id names a check.
func Known(id string) bool { return specFor(id) != nil }

func specFor(id string) *spec {
	for i := range specs {
		if specs[i].id == id {
			return &specs[i]
		}
	}
	return nil
}

// sqlFile is the file name, without ".sql", of one of a check's queries.
func sqlFile(check, query string) string {
	if s := specFor(check); s != nil && s.populationOf != "" && query == QueryPopulation {
		check = s.populationOf
	}
	return "sql/" + check + "." + query
}

// SQL returns the text of one of a check's queries.
func SQL(check, query string) (string, error) {
	b, err := sqlFiles.ReadFile(sqlFile(check, query) + ".sql")
	if err != nil {
		return "", fmt.Errorf("check %s has no %s query: %w", check, query, err)
	}
	return string(b), nil
}

// formatParams lists params sorted by name, as ClickHouse receives them.
func formatParams(p store.Params) []paramText {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]paramText, 0, len(names))
	for _, n := range names {
		v, err := store.FormatParam(p[n])
		if err != nil {
			v = "(" + strconv.Quote(err.Error()) + ")"
		}
		out = append(out, paramText{n, v})
	}
	return out
}

type paramText struct{ name, value string }
