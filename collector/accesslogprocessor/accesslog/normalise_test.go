package accesslog

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCipherTableMatchesGo checks every IANA name in the table against the
// names Go's crypto/tls gives, so a typo cannot hide in the table.
func TestCipherTableMatchesGo(t *testing.T) {
	known := map[string]bool{
		// TLS 1.3 suites Go does not implement.
		"TLS_AES_128_CCM_SHA256": true, "TLS_AES_128_CCM_8_SHA256": true,
		// Legacy suites Go does not implement.
		"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": true, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": true,
		"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256": true, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256": true,
		"TLS_DHE_RSA_WITH_AES_256_CBC_SHA256": true, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA": true,
		"TLS_DHE_RSA_WITH_AES_256_CBC_SHA": true, "TLS_RSA_WITH_AES_256_CBC_SHA256": true,
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384": true, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384": true,
	}
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		known[cs.Name] = true
	}
	for openssl, iana := range cipherIANA {
		require.Truef(t, known[iana], "%s maps to %s, which is no IANA name Go or the exceptions list knows", openssl, iana)
	}
	require.Equal(t, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", CipherIANA("ECDHE-RSA-AES128-GCM-SHA256"))
	require.Equal(t, "TLS_AES_128_GCM_SHA256", CipherIANA("TLS_AES_128_GCM_SHA256"))
	require.Equal(t, "SOME-FUTURE-CIPHER", CipherIANA("SOME-FUTURE-CIPHER"))
	// Go's own name for a suite, as the tap records it, maps to itself.
	require.Equal(t, tls.CipherSuiteName(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), CipherIANA("ECDHE-ECDSA-CHACHA20-POLY1305"))
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{"TLSv1.3": "1.3", "TLSv1.2": "1.2", "TLSv1": "1.0", "1.3": "1.3", "QUIC?": "QUIC?"} {
		require.Equal(t, want, TLSVersion(in), in)
	}
	for in, want := range map[string]string{"HTTP/1.1": "1.1", "HTTP/2.0": "2", "HTTP/2": "2", "HTTP/3.0": "3", "HTTP/1.0": "1.0"} {
		require.Equal(t, want, ProtocolVersion(in), in)
	}
	for in, want := range map[string]string{"1f:2e:3d": "1F2E3D", "ABCdef": "ABCDEF", "not hex": "not hex"} {
		require.Equal(t, want, UpperHex(in), in)
	}
	times := map[string]string{
		"Dec 31 23:59:59 2026 GMT":      "2026-12-31T23:59:59Z",
		"Jan  2 03:04:05 2027 GMT":      "2027-01-02T03:04:05Z",
		"Jan  2 03:04:05.5 2027 GMT":    "2027-01-02T03:04:05Z",
		"2026-12-31T23:59:59.000Z":      "2026-12-31T23:59:59Z",
		"2026-12-31T23:59:59.000+01:00": "2026-12-31T22:59:59Z",
	}
	for in, want := range times {
		got, ok := CertTime(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := CertTime("tomorrow")
	require.False(t, ok)

	for in, want := range map[string]int64{"0.000": 0, "0.005": 5_000_000, "12": 12_000_000_000, "1.5": 1_500_000_000, ".25": 250_000_000} {
		got, ok := parseDecimalNanos(in, 1e9)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "-1", "1.2.3", "abc", "1e3", "."} {
		_, ok := parseDecimalNanos(bad, 1e9)
		require.False(t, ok, bad)
	}
}

func TestParseTraceparent(t *testing.T) {
	ok := []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future",
	}
	for _, tp := range ok {
		tid, sid, good := ParseTraceparent(tp)
		require.True(t, good, tp)
		require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", tid.String())
		require.Equal(t, "00f067aa0ba902b7", sid.String())
	}
	bad := []string{
		"", "garbage",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
	}
	for _, tp := range bad {
		_, _, good := ParseTraceparent(tp)
		require.False(t, good, tp)
	}
}
