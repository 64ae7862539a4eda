package identity

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendChainJSON appends the chain as JSON, exactly as encoding/json would
// decode back to the same entries, without reflection: the tap encodes a
// chain per request, and encoding/json was the largest part of that cost.
// TestAppendChainJSON compares the two.
func AppendChainJSON(dst []byte, chain []Entry) []byte {
	dst = append(dst, '[')
	for i := range chain {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = chain[i].appendJSON(dst)
	}
	return append(dst, ']')
}

func (e *Entry) appendJSON(b []byte) []byte {
	b = append(b, `{"source":`...)
	b = appendJSONString(b, e.Source)
	b = optString(b, "type", e.Type)
	b = optString(b, "id", e.ID)
	b = append(b, `,"verified":`...)
	b = strconv.AppendBool(b, e.Verified)
	if e.Principal {
		b = append(b, `,"principal":true`...)
	}
	b = optString(b, "reason", e.Reason)
	b = optString(b, "spiffe_id", e.SPIFFEID)
	b = optString(b, "subject", e.Subject)
	b = optString(b, "issuer", e.Issuer)
	b = optString(b, "serial", e.Serial)
	b = optString(b, "sha256", e.Fingerprint)
	b = optTime(b, "not_after", e.NotAfter)
	b = optStrings(b, "audience", e.Audience)
	b = optStrings(b, "scopes", e.Scopes)
	b = optTime(b, "expiry", e.Expiry)
	b = optString(b, "by", e.By)
	if e.Hop != nil {
		b = append(b, `,"hop":`...)
		b = strconv.AppendInt(b, int64(*e.Hop), 10)
	}
	return append(b, '}')
}

func optString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

func optStrings(b []byte, key string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

func optTime(b []byte, key string, t *time.Time) []byte {
	if t == nil {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD
// as with encoding/json.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
