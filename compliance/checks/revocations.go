package checks

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// ReadRevocationFile reads a revocation list: one
// "identity,revoked_at[,reason]" per line, revoked_at in RFC 3339; blank
// lines and lines starting with '#' are skipped.
func ReadRevocationFile(path string) ([]Revocation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	defer f.Close()
	var out []Revocation
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ",", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("revocation list %s:%d: want identity,revoked_at[,reason]", path, n)
		}
		at, err := time.Parse(time.RFC3339, strings.TrimSpace(parts[1]))
		if err != nil {
			return nil, fmt.Errorf("revocation list %s:%d: revoked_at: %w", path, n, err)
		}
		r := Revocation{Identity: strings.TrimSpace(parts[0]), RevokedAt: at.UTC()}
		if len(parts) == 3 {
			r.Reason = strings.TrimSpace(parts[2])
		}
		if r.Identity == "" {
			return nil, fmt.Errorf("revocation list %s:%d: empty identity", path, n)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", path, err)
	}
	return out, nil
}
