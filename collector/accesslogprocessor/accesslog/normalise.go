package accesslog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TLSVersion returns the numeric TLS version of tls.protocol.version ("1.3")
// for the names Nginx and Envoy log ("TLSv1.3", "TLSv1"); a value already
// numeric is kept, an unknown one returned as given.
func TLSVersion(s string) string {
	switch s {
	case "TLSv1.3", "TLS 1.3", "1.3":
		return "1.3"
	case "TLSv1.2", "TLS 1.2", "1.2":
		return "1.2"
	case "TLSv1.1", "TLS 1.1", "1.1":
		return "1.1"
	case "TLSv1", "TLSv1.0", "TLS 1.0", "1.0":
		return "1.0"
	case "SSLv3", "SSL 3.0":
		return "3.0"
	}
	return s
}

// cipherIANA maps OpenSSL and BoringSSL cipher-suite names (what Nginx's
// $ssl_cipher and Envoy's %DOWNSTREAM_TLS_CIPHER% give) to the IANA names
// Go's tls.CipherSuiteName returns.
var cipherIANA = map[string]string{
	// TLS 1.3: OpenSSL already uses the IANA names.
	"TLS_AES_128_GCM_SHA256":       "TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384":       "TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256": "TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_CCM_SHA256":       "TLS_AES_128_CCM_SHA256",
	"TLS_AES_128_CCM_8_SHA256":     "TLS_AES_128_CCM_8_SHA256",
	// TLS 1.2 and older.
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-ECDSA-AES256-SHA384":     "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	"ECDHE-RSA-AES256-SHA384":       "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"DHE-RSA-AES128-GCM-SHA256":     "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	"DHE-RSA-AES256-GCM-SHA384":     "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	"DHE-RSA-CHACHA20-POLY1305":     "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"DHE-RSA-AES128-SHA256":         "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	"DHE-RSA-AES256-SHA256":         "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	"DHE-RSA-AES128-SHA":            "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	"DHE-RSA-AES256-SHA":            "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"AES256-SHA256":                 "TLS_RSA_WITH_AES_256_CBC_SHA256",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
}

// CipherIANA returns the IANA name of an OpenSSL cipher-suite name; names it
// does not know (IANA names included) are returned as given.
func CipherIANA(s string) string {
	if n, ok := cipherIANA[s]; ok {
		return n
	}
	return s
}

// UpperHex returns a hex string (a serial or a fingerprint) as uppercase hex
// without separators; anything that is not hex is returned as given.
func UpperHex(s string) string {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
			clean = append(clean, c)
		case c >= 'a' && c <= 'f':
			clean = append(clean, c-'a'+'A')
		case c == ':':
		default:
			return s
		}
	}
	return string(clean)
}

// CertTime parses a certificate validity time as Nginx gives it
// ($ssl_client_v_end, OpenSSL's "Dec 31 23:59:59 2026 GMT") or Envoy does
// (%DOWNSTREAM_PEER_CERT_V_END%, "2026-12-31T23:59:59.000Z"), and returns it
// as RFC 3339 in UTC.
func CertTime(s string) (string, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Format(time.RFC3339), true
	}
	if rest, ok := strings.CutSuffix(s, " GMT"); ok {
		if t, err := time.ParseInLocation("Jan _2 15:04:05 2006", rest, time.UTC); err == nil {
			return t.Format(time.RFC3339), true
		}
	}
	return "", false
}

// ProtocolVersion returns network.protocol.version for an HTTP protocol
// string: "HTTP/1.1" → "1.1", "HTTP/2.0" → "2", "HTTP/3" → "3".
func ProtocolVersion(s string) string {
	v, ok := strings.CutPrefix(s, "HTTP/")
	if !ok {
		return s
	}
	switch v {
	case "2.0":
		return "2"
	case "3.0":
		return "3"
	}
	return v
}

// parseDecimalNanos parses a non-negative decimal number of units (seconds
// when unit is time.Second) such as "0.005" into nanoseconds, exactly.
func parseDecimalNanos(s string, unit int64) (int64, bool) {
	if s == "" {
		return 0, false
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, false
	}
	var whole int64
	if intPart != "" {
		w, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || w < 0 || w > (1<<62)/unit {
			return 0, false
		}
		whole = w
	}
	ns := whole * unit
	scale := unit / 10
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		ns += int64(c-'0') * scale
		scale /= 10
	}
	return ns, true
}

// validUTF8 returns s with invalid UTF-8 replaced by U+FFFD, and whether it
// had to replace anything.
func validUTF8(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), false
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), true
}

// absent reports a value Nginx or Envoy logs for "not set".
func absent(s string) bool { return s == "" || s == "-" }
