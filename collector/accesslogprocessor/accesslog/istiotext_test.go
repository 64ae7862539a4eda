package accesslog

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
)

const istioTextLine = `[2026-03-01T10:00:00.123Z] "GET /api/orders?id=7 HTTP/1.1" 503 UF,URX upstream_reset_before_response_started{connection_failure} - "delayed_connect_error:_111" 0 91 3 - "-" "curl/8.5.0" "6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718" "orders:8080" "10.1.2.3:8080" outbound|8080||orders.shop.svc.cluster.local - 10.96.0.10:8080 10.1.0.7:43210 - default`

func TestParseIstioText(t *testing.T) {
	fields, ok := parseIstioText(istioTextLine)
	require.True(t, ok)
	got := map[string]string{}
	for _, f := range fields {
		got[f.k] = f.v
	}
	require.Equal(t, map[string]string{
		MeshStartTime: "2026-03-01T10:00:00.123Z", MeshMethod: "GET", MeshPath: "/api/orders?id=7", MeshProtocol: "HTTP/1.1",
		MeshResponseCode: "503", MeshResponseFlags: "UF,URX", MeshResponseDetails: "upstream_reset_before_response_started{connection_failure}",
		"connection_termination_details": "-", MeshUpstreamFailure: "delayed_connect_error:_111",
		MeshBytesReceived: "0", MeshBytesSent: "91", MeshDuration: "3", "upstream_service_time": "-",
		"x_forwarded_for": "-", MeshUserAgent: "curl/8.5.0", MeshRequestID: "6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718",
		MeshAuthority: "orders:8080", MeshUpstreamHost: "10.1.2.3:8080", "upstream_cluster": "outbound|8080||orders.shop.svc.cluster.local",
		"upstream_local_address": "-", "downstream_local_address": "10.96.0.10:8080", MeshDownstreamRemote: "10.1.0.7:43210",
		MeshRequestedSNI: "-", "route_name": "default",
	}, got)

	for _, bad := range []string{
		istioTextLine[:120],                  // cut
		istioTextLine + " extra",             // more fields than the format
		`[2026-03-01T10:00:00.123Z] "GET /"`, // not the format
		"plain text",
	} {
		_, ok := parseIstioText(bad)
		require.False(t, ok, bad)
	}
}

func TestMapMeshIstioText(t *testing.T) {
	rec := plog.NewLogRecord()
	rec.Body().SetStr(istioTextLine)
	res := MapMesh(rec)
	require.Equal(t, Result{Format: FormatIstioText, Mapped: true}, res)
	a := rec.Attributes().AsRaw()
	require.Equal(t, int64(503), a[event.AttrHTTPStatus])
	require.Equal(t, "UF,URX", a[event.AttrResponseFlags])
	require.Equal(t, "delayed_connect_error:_111", a[event.AttrUpstreamFailure])
	require.Equal(t, "outbound|8080||orders.shop.svc.cluster.local", a["upstream_cluster"])
	require.Equal(t, istioTextLine, a[event.AttrRaw])
	require.Equal(t, uint64(1772359200123000000), uint64(rec.Timestamp()))

	// An application's text log starting with '[' is left alone.
	app := plog.NewLogRecord()
	app.Body().SetStr("[INFO] started in 3 ms")
	require.False(t, MapMesh(app).Mapped)
	require.Equal(t, "[INFO] started in 3 ms", app.Body().Str())
}
