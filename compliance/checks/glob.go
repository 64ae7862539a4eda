package checks

import (
	"regexp"
	"strings"
)

// globMatch reports whether s matches a '*' wildcard pattern; an empty
// pattern matches everything.
func globMatch(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// matchNothing is an RE2 pattern that matches no string.
const matchNothing = `[^\s\S]`

// globRegexp turns '*' wildcard patterns into one anchored RE2 pattern
// that matches a string matching any of them (or nothing for no
// patterns), for ClickHouse's match(): one constant pattern, compiled
// once per query.
func globRegexp(globs []string) string {
	if len(globs) == 0 {
		return matchNothing
	}
	alts := make([]string, 0, len(globs))
	for _, g := range globs {
		alts = append(alts, globBody(g))
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}

func globBody(g string) string {
	parts := strings.Split(g, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

// scopeRegexp is globRegexp for a scope list, where no patterns means
// everything.
func scopeRegexp(globs []string) string {
	if len(globs) == 0 {
		return globRegexp([]string{"*"})
	}
	return globRegexp(globs)
}

// flowRegexp is one pattern for declared flows, matched against
// caller + "\t" + service.
func flowRegexp(flows []Flow) string {
	if len(flows) == 0 {
		return matchNothing
	}
	alts := make([]string, 0, len(flows))
	for _, f := range flows {
		alts = append(alts, globBody(f.From)+`\t`+globBody(f.To))
	}
	return "^(?:" + strings.Join(alts, "|") + ")$"
}
