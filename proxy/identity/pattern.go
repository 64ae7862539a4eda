package identity

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// SPIFFEPattern matches SPIFFE IDs. A pattern is a SPIFFE ID in which a path
// segment (or the trust domain) may hold shell-style wildcards that never
// cross a '/' (`spiffe://example.org/ns/*/sa/frontend`), and which may end in
// `/**` to match every ID below a prefix (`spiffe://example.org/ns/prod/**`).
type SPIFFEPattern struct {
	raw     string
	glob    string // pattern for path.Match, "" when prefix-only
	prefix  string // for a trailing /**: the part before it, with the slash
	slashes int    // for a trailing /**: the slashes in glob, plus one
}

// ErrBadPattern reports a SPIFFE ID pattern that cannot be used.
var ErrBadPattern = errors.New("bad spiffe id pattern")

// ParseSPIFFEPattern checks and compiles a pattern.
func ParseSPIFFEPattern(s string) (SPIFFEPattern, error) {
	if !strings.HasPrefix(s, "spiffe://") || len(s) == len("spiffe://") {
		return SPIFFEPattern{}, fmt.Errorf("%w: %q does not start with spiffe://<trust domain>", ErrBadPattern, s)
	}
	p := SPIFFEPattern{raw: s}
	body := s
	if strings.HasSuffix(s, "/**") {
		body = strings.TrimSuffix(s, "/**")
		p.prefix = body + "/"
	}
	if strings.Contains(body, "**") {
		return SPIFFEPattern{}, fmt.Errorf("%w: %q uses ** other than as the last segment", ErrBadPattern, s)
	}
	if _, err := path.Match(body, ""); err != nil {
		return SPIFFEPattern{}, fmt.Errorf("%w: %q: %w", ErrBadPattern, s, err)
	}
	p.glob = body
	p.slashes = strings.Count(body, "/") + 1
	return p, nil
}

// String returns the pattern as written.
func (p SPIFFEPattern) String() string { return p.raw }

// Match reports whether id matches the pattern. An empty id never matches.
func (p SPIFFEPattern) Match(id string) bool {
	if id == "" {
		return false
	}
	if p.prefix != "" {
		// "spiffe://td/ns/**" matches "spiffe://td/ns/a" and "spiffe://td/ns/a/b":
		// compare the leading segments with the glob, the rest freely
		// (something must follow them).
		end := -1 // the slash after the leading segments
		for range p.slashes {
			j := strings.IndexByte(id[end+1:], '/')
			if j < 0 {
				return false
			}
			end += j + 1
		}
		if end+1 == len(id) {
			return false
		}
		ok, _ := path.Match(p.glob, id[:end])
		return ok
	}
	ok, _ := path.Match(p.glob, id)
	return ok
}

// AnySPIFFEPattern reports whether id matches any of the patterns.
func AnySPIFFEPattern(ps []SPIFFEPattern, id string) bool {
	for _, p := range ps {
		if p.Match(id) {
			return true
		}
	}
	return false
}
