package accesslogprocessor

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
)

// TestDocsLabels keeps the labels docs/mesh.md recommends and the keys the
// mapping reads in step: every documented label is read, every key read is
// documented.
func TestDocsLabels(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "mesh.md"))
	require.NoError(t, err)
	istio := regexp.MustCompile(`(?m)^ {12}([a-z0-9_]+): "(%[^"]+%)"$`)
	envoy := regexp.MustCompile(`(?m)^ {6}- \{ key: ([a-z0-9_]+), value: \{ string_value: "(%[^"]+%)" \} \}$`)
	labels := func(re *regexp.Regexp) map[string]string {
		out := map[string]string{}
		for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
			out[m[1]] = m[2]
		}
		return out
	}
	istioLabels, envoyLabels := labels(istio), labels(envoy)
	require.Equal(t, istioLabels, envoyLabels, "the Istio and the Envoy example carry the same fields")
	for k := range istioLabels {
		if k == "upstream_cluster" {
			continue // kept as an attribute, and used to recognise JSON bodies
		}
		require.True(t, accesslog.IsMeshKey(k), "documented label %q is not read by the mapping", k)
	}
	for _, k := range []string{
		accesslog.MeshStartTime, accesslog.MeshMethod, accesslog.MeshPath, accesslog.MeshProtocol,
		accesslog.MeshResponseCode, accesslog.MeshResponseFlags, accesslog.MeshResponseDetails,
		accesslog.MeshUpstreamFailure, accesslog.MeshBytesReceived, accesslog.MeshBytesSent,
		accesslog.MeshDuration, accesslog.MeshUserAgent, accesslog.MeshRequestID, accesslog.MeshAuthority,
		accesslog.MeshUpstreamHost, accesslog.MeshDownstreamRemote, accesslog.MeshRequestedSNI,
		accesslog.MeshTraceparent, accesslog.MeshTraceID, accesslog.MeshPeerURISAN, accesslog.MeshPeerSubject,
		accesslog.MeshPeerIssuer, accesslog.MeshPeerSerial, accesslog.MeshPeerFingerprint256,
		accesslog.MeshPeerCertVEnd, accesslog.MeshTLSVersion, accesslog.MeshTLSCipher, accesslog.MeshXFCC,
	} {
		require.Contains(t, istioLabels, k, "key %q read by the mapping is not in the documented labels", k)
	}
	require.Contains(t, string(doc), `downstream_transport_failure_reason: "%DOWNSTREAM_TRANSPORT_FAILURE_REASON%"`)
}
