package proxy

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tapline/tapline/proxy/policy"
)

type route struct {
	name     string
	host     string // lower case; "" any; "*.x" one label under x
	prefix   string
	upstream *upstream
	policy   *policy.Policy
}

// sortRoutes orders routes so that the first match is the right one:
// longer prefixes first, then routes with a host before those without.
func sortRoutes(rs []*route) {
	slices.SortStableFunc(rs, func(a, b *route) int {
		if c := cmp.Compare(len(b.prefix), len(a.prefix)); c != 0 {
			return c
		}
		return cmp.Compare(len(b.host), len(a.host))
	})
}

func matchRoute(rs []*route, host, path string) *route {
	for _, r := range rs {
		if r.matchHost(host) && matchPrefix(r.prefix, path) {
			return r
		}
	}
	return nil
}

func (r *route) matchHost(host string) bool {
	if r.host == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(r.host, "*."); ok {
		i := strings.IndexByte(host, '.')
		return i > 0 && strings.EqualFold(host[i+1:], rest)
	}
	return strings.EqualFold(host, r.host)
}

// matchPrefix matches whole path segments: "/api" matches "/api" and
// "/api/x" but not "/apix"; a prefix ending in "/" matches below it.
func matchPrefix(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// canonicalPath reports whether a request path is already clean: absolute,
// no empty, "." or ".." segments. Routing and policy look at the decoded
// path while the upstream may normalise it; refusing anything unclean keeps
// the two from ever disagreeing ("/public/../admin").
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		end := len(p)
		if j >= 0 {
			end = i + j
		}
		seg := p[i:end]
		if seg == "." || seg == ".." || (seg == "" && end != len(p)) {
			return false
		}
		i = end + 1
	}
	return true
}
