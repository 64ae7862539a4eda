package accesslog

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of the flat JSON scanner.
var (
	// ErrTruncated reports a JSON object cut before its end, as Nginx's
	// syslog output does to lines longer than about 2 KB.
	ErrTruncated = errors.New("truncated json object")
	// ErrSyntax reports input that is not a JSON object.
	ErrSyntax = errors.New("json syntax error")
)

// valueKind is the JSON type of a scanned value.
type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindBool
	kindNull
	kindNested // an object or array: not used by the mappings, skipped
)

// scanner walks one JSON object whose values are scalars (the shape of Nginx's
// escape=json lines and of Envoy's JSON access logs) without building a
// tree. Strings without escapes are returned as sub-slices of the input;
// escaped ones are decoded into buf, which the caller reuses between lines.
type scanner struct {
	data    []byte
	pos     int
	buf     []byte
	escaped bool // the last value read was decoded into buf
}

// offset returns where the value just handed to the callback starts in the
// scanned data, or -1 if it was decoded into buf. A sub-slice shares the
// data's array, so its offset is the difference of the capacities.
func (s *scanner) offset(val []byte) int {
	if s.escaped {
		return -1
	}
	return cap(s.data) - cap(val)
}

// scanObject calls fn for every key/value pair of the object in data, in
// order. It stops at the first error; pairs before it have been delivered,
// so a cut line still yields its leading fields.
func (s *scanner) scanObject(data []byte, fn func(key []byte, kind valueKind, val []byte)) error {
	s.data, s.pos, s.buf = data, 0, s.buf[:0]
	s.space()
	if s.pos >= len(s.data) {
		return ErrTruncated
	}
	if s.data[s.pos] != '{' {
		return ErrSyntax
	}
	s.pos++
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return s.end()
	}
	for {
		s.space()
		if s.pos >= len(s.data) {
			return ErrTruncated
		}
		if s.data[s.pos] != '"' {
			return ErrSyntax
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		s.space()
		if s.pos >= len(s.data) {
			return ErrTruncated
		}
		if s.data[s.pos] != ':' {
			return ErrSyntax
		}
		s.pos++
		s.space()
		kind, val, err := s.value()
		if err != nil {
			return err
		}
		fn(key, kind, val)
		s.space()
		if s.pos >= len(s.data) {
			return ErrTruncated
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return s.end()
		default:
			return ErrSyntax
		}
	}
}

// end accepts trailing white space only.
func (s *scanner) end() error {
	s.space()
	if s.pos != len(s.data) {
		return ErrSyntax
	}
	return nil
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value() (valueKind, []byte, error) {
	s.escaped = false
	if s.pos >= len(s.data) {
		return 0, nil, ErrTruncated
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		v, err := s.str()
		return kindString, v, err
	case c == '-' || c >= '0' && c <= '9':
		start := s.pos
		for s.pos < len(s.data) {
			c := s.data[s.pos]
			if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				s.pos++
				continue
			}
			break
		}
		if s.pos >= len(s.data) {
			return 0, nil, ErrTruncated
		}
		return kindNumber, s.data[start:s.pos], nil
	case c == 't':
		return s.literal("true", kindBool)
	case c == 'f':
		return s.literal("false", kindBool)
	case c == 'n':
		return s.literal("null", kindNull)
	case c == '{' || c == '[':
		kind, v, err := s.nested()
		s.escaped = false
		return kind, v, err
	default:
		return 0, nil, ErrSyntax
	}
}

func (s *scanner) literal(word string, kind valueKind) (valueKind, []byte, error) {
	end := s.pos + len(word)
	if end > len(s.data) {
		if string(s.data[s.pos:]) == word[:len(s.data)-s.pos] {
			return 0, nil, ErrTruncated
		}
		return 0, nil, ErrSyntax
	}
	if string(s.data[s.pos:end]) != word {
		return 0, nil, ErrSyntax
	}
	v := s.data[s.pos:end]
	s.pos = end
	return kind, v, nil
}

// nested skips an object or array, strings included, and returns it whole.
func (s *scanner) nested() (valueKind, []byte, error) {
	start := s.pos
	depth := 0
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '{', '[':
			depth++
			if depth > 64 {
				return 0, nil, ErrSyntax
			}
		case '}', ']':
			depth--
			if depth == 0 {
				s.pos++
				return kindNested, s.data[start:s.pos], nil
			}
		case '"':
			if _, err := s.str(); err != nil {
				return 0, nil, err
			}
			continue
		}
		s.pos++
	}
	return 0, nil, ErrTruncated
}

// str reads a JSON string starting at the opening quote.
func (s *scanner) str() ([]byte, error) {
	s.pos++ // opening quote
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			v := s.data[start:s.pos]
			s.pos++
			return v, nil
		}
		if c == '\\' {
			return s.escapedStr(start)
		}
		if c < 0x20 {
			return nil, ErrSyntax
		}
		s.pos++
	}
	return nil, ErrTruncated
}

// escapedStr decodes a string holding escapes into s.buf.
func (s *scanner) escapedStr(start int) ([]byte, error) {
	s.escaped = true
	from := len(s.buf)
	s.buf = append(s.buf, s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.buf[from:len(s.buf):len(s.buf)], nil
		case c < 0x20:
			return nil, ErrSyntax
		case c != '\\':
			s.buf = append(s.buf, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return nil, ErrTruncated
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, err := s.hex4()
			if err != nil {
				return nil, err
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					save := s.pos
					s.pos += 2
					lo, err := s.hex4()
					if err != nil {
						return nil, err
					}
					if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
						r2 = d
					} else {
						s.pos = save
					}
				}
				r = r2
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, ErrSyntax
		}
	}
	return nil, ErrTruncated
}

func (s *scanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		return 0, ErrTruncated
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, ErrSyntax
		}
	}
	s.pos += 4
	return r, nil
}
