package proxy

import (
	"crypto/rand"
	"encoding/hex"
)

// traceContext is a parsed W3C traceparent.
type traceContext struct {
	traceID [16]byte
	spanID  [8]byte
	flags   byte
}

// parseTraceparent parses a W3C traceparent header (version 00, or a later
// version read as 00 would be, as the specification asks). All-zero ids and
// version ff are invalid.
func parseTraceparent(s string) (traceContext, bool) {
	var tc traceContext
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return tc, false
	}
	var ver [1]byte
	if !decodeHexLower(ver[:], s[0:2]) || ver[0] == 0xff {
		return tc, false
	}
	if ver[0] == 0 && len(s) != 55 {
		return tc, false
	}
	if len(s) > 55 && s[55] != '-' {
		return tc, false
	}
	var fl [1]byte
	if !decodeHexLower(tc.traceID[:], s[3:35]) || !decodeHexLower(tc.spanID[:], s[36:52]) || !decodeHexLower(fl[:], s[53:55]) {
		return tc, false
	}
	if tc.traceID == [16]byte{} || tc.spanID == [8]byte{} {
		return tc, false
	}
	tc.flags = fl[0]
	if ver[0] != 0 {
		tc.flags &= 0x01 // unknown versions: keep only the sampled flag
	}
	return tc, true
}

// decodeHexLower decodes lowercase hex only, as traceparent requires.
func decodeHexLower(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range s {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

// formatTraceparent renders a version-00 traceparent.
func formatTraceparent(traceID [16]byte, spanID [8]byte, flags byte) string {
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], traceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], spanID[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{flags})
	return string(b[:])
}

// ids are the random identifiers one request needs.
type ids struct {
	requestID [16]byte
	traceID   [16]byte
	spanID    [8]byte
}

func newIDs() ids {
	var v ids
	var b [40]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	copy(v.requestID[:], b[0:16])
	copy(v.traceID[:], b[16:32])
	copy(v.spanID[:], b[32:40])
	// An all-zero id is invalid; with 64 random bits this is theoretical.
	if v.spanID == [8]byte{} {
		v.spanID[7] = 1
	}
	if v.traceID == [16]byte{} {
		v.traceID[15] = 1
	}
	return v
}

// validRequestID accepts an incoming X-Request-ID from a trusted peer: 1 to
// 128 visible ASCII characters without spaces or quotes.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
