package xfcc

import (
	"fmt"
	"net/url"
	"strings"
)

// HeaderName is the canonical name of the header.
const HeaderName = "X-Forwarded-Client-Cert"

// Element is what one proxy hop recorded about its downstream client.
type Element struct {
	// By is the URI SAN of the proxy that added the element.
	By string
	// Hash is the SHA-256 digest of the client certificate, as sent (hex).
	Hash string
	// Cert is the client certificate in PEM, URL-decoded.
	Cert string
	// Chain is the client certificate chain (leaf first) in PEM, URL-decoded.
	Chain string
	// Subject is the client certificate's subject DN, unquoted, as sent.
	Subject string
	// URI is the client certificate's first URI SAN (for a SPIFFE SVID, its
	// only one).
	URI string
	// URIs holds every URI SAN sent, URI being the first.
	URIs []string
	// DNS holds the client certificate's DNS SANs.
	DNS []string
}

// SPIFFEID returns the first URI SAN with the spiffe scheme, or "".
func (e Element) SPIFFEID() string {
	for _, u := range e.URIs {
		if len(u) > len("spiffe://") && strings.EqualFold(u[:len("spiffe://")], "spiffe://") {
			return u
		}
	}
	return ""
}

// Parse parses an XFCC header value into its elements, in the order the hops
// added them (the last element is the nearest proxy's). An empty or blank
// header gives no elements and no error. Unknown keys are ignored so that
// later additions to the format do not break parsing.
func Parse(header string) ([]Element, error) {
	p := parser{s: header}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	var out []Element
	for {
		el, err := p.element()
		if err != nil {
			return nil, err
		}
		out = append(out, el)
		p.skipSpace()
		if p.eof() {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.errorf(ErrSyntax, "expected ',' between elements")
		}
		p.i++
		p.skipSpace()
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", sentinel, p.i, fmt.Sprintf(format, args...))
}

// element parses pairs up to the next top-level ',' or the end.
func (p *parser) element() (Element, error) {
	var el Element
	seen := map[string]bool{}
	for {
		p.skipSpace()
		key, err := p.key()
		if err != nil {
			return Element{}, err
		}
		val, err := p.value()
		if err != nil {
			return Element{}, err
		}
		if err := el.set(key, val, seen); err != nil {
			return Element{}, p.errorf(err, "key %q", key)
		}
		p.skipSpace()
		if p.eof() || p.s[p.i] == ',' {
			return el, nil
		}
		if p.s[p.i] != ';' {
			return Element{}, p.errorf(ErrSyntax, "expected ';' or ',' after value")
		}
		p.i++
	}
}

func (p *parser) key() (string, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '=' {
			key := strings.TrimRight(p.s[start:p.i], " \t")
			if key == "" || strings.ContainsAny(key, " \t") {
				return "", p.errorf(ErrSyntax, "bad key %q", key)
			}
			p.i++
			return key, nil
		}
		if !isKeyByte(c) && c != ' ' && c != '\t' {
			break
		}
		p.i++
	}
	return "", p.errorf(ErrSyntax, "expected Key=")
}

func (p *parser) value() (string, error) {
	p.skipSpace()
	if p.eof() || p.s[p.i] != '"' {
		start := p.i
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == ',' || c == ';' {
				break
			}
			if c == '=' || c == '"' {
				return "", p.errorf(ErrSyntax, "unquoted value holds %q", c)
			}
			p.i++
		}
		return strings.TrimRight(p.s[start:p.i], " \t"), nil
	}
	p.i++ // opening quote
	var b strings.Builder
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			if b.Len() == 0 {
				v := p.s[start:p.i]
				p.i++
				return v, nil
			}
			b.WriteString(p.s[start:p.i])
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errorf(ErrSyntax, "backslash at end of header")
			}
			b.WriteString(p.s[start:p.i])
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			start = p.i
			continue
		}
		p.i++
	}
	return "", p.errorf(ErrSyntax, "unterminated quoted value")
}

func (e *Element) set(key, val string, seen map[string]bool) error {
	single := func(dst *string) error {
		k := strings.ToLower(key)
		if seen[k] {
			return ErrDuplicateKey
		}
		seen[k] = true
		*dst = val
		return nil
	}
	switch {
	case strings.EqualFold(key, "By"):
		return single(&e.By)
	case strings.EqualFold(key, "Hash"):
		return single(&e.Hash)
	case strings.EqualFold(key, "Subject"):
		return single(&e.Subject)
	case strings.EqualFold(key, "Cert"), strings.EqualFold(key, "Chain"):
		dec, err := url.PathUnescape(val)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEncoding, err)
		}
		val = dec
		if strings.EqualFold(key, "Cert") {
			return single(&e.Cert)
		}
		return single(&e.Chain)
	case strings.EqualFold(key, "URI"):
		if len(e.URIs) == 0 {
			e.URI = val
		}
		e.URIs = append(e.URIs, val)
	case strings.EqualFold(key, "DNS"):
		e.DNS = append(e.DNS, val)
	}
	return nil
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
