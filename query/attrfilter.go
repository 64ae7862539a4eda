package query

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AttrScope says which attribute map an attribute filter looks at.
type AttrScope int

// Attribute filter scopes.
const (
	ScopeAny      AttrScope = iota // span or resource attributes
	ScopeSpan                      // span attributes only ("span:" prefix)
	ScopeResource                  // resource attributes only ("resource:" prefix)
)

// AttrOp is an attribute filter's comparison.
type AttrOp int

// Attribute filter operators.
const (
	OpEquals    AttrOp = iota // key=value
	OpNotEquals               // key!=value: absent or different
	OpExists                  // key
	OpNotExists               // !key
)

// AttrFilter is one parsed attribute filter of a trace search.
type AttrFilter struct {
	Scope AttrScope
	Key   string
	Op    AttrOp
	Value string
}

// ParseAttrFilter reads the text form of an attribute filter:
// "key=value", "key!=value", "key", "!key", each optionally prefixed with
// "span:" or "resource:". The key ends at the first "=" (or "!="), so keys
// cannot contain "="; values may contain anything.
func ParseAttrFilter(s string) (AttrFilter, error) {
	var f AttrFilter
	if !utf8.ValidString(s) {
		return f, errors.New("not valid UTF-8")
	}
	rest := s
	switch {
	case strings.HasPrefix(rest, "span:"):
		f.Scope, rest = ScopeSpan, rest[len("span:"):]
	case strings.HasPrefix(rest, "resource:"):
		f.Scope, rest = ScopeResource, rest[len("resource:"):]
	}
	if i := strings.IndexByte(rest, '='); i >= 0 {
		f.Key, f.Value, f.Op = rest[:i], rest[i+1:], OpEquals
		if strings.HasSuffix(f.Key, "!") {
			f.Key, f.Op = strings.TrimSuffix(f.Key, "!"), OpNotEquals
		}
		if strings.HasPrefix(f.Key, "!") {
			return f, errors.New(`"!key" takes no value; use "key!=value"`)
		}
	} else if k, ok := strings.CutPrefix(rest, "!"); ok {
		f.Key, f.Op = k, OpNotExists
	} else {
		f.Key, f.Op = rest, OpExists
	}
	if err := checkAttrKey(f.Key); err != nil {
		return f, err
	}
	if len(f.Value) > maxValueLen {
		return f, fmt.Errorf("value longer than %d bytes", maxValueLen)
	}
	if strings.ContainsRune(f.Value, 0) {
		return f, errors.New("value contains a NUL character")
	}
	return f, nil
}

func checkAttrKey(k string) error {
	switch {
	case k == "":
		return errors.New(`empty key; write "key=value", "key!=value", "key" or "!key"`)
	case len(k) > maxNameLen:
		return fmt.Errorf("key longer than %d bytes", maxNameLen)
	case strings.ContainsFunc(k, unicode.IsControl):
		return errors.New("key contains a control character")
	}
	return nil
}

// String writes the filter back in its text form.
func (f AttrFilter) String() string {
	var b strings.Builder
	switch f.Scope {
	case ScopeSpan:
		b.WriteString("span:")
	case ScopeResource:
		b.WriteString("resource:")
	}
	switch f.Op {
	case OpEquals:
		b.WriteString(f.Key + "=" + f.Value)
	case OpNotEquals:
		b.WriteString(f.Key + "!=" + f.Value)
	case OpExists:
		b.WriteString(f.Key)
	case OpNotExists:
		b.WriteString("!" + f.Key)
	}
	return b.String()
}
