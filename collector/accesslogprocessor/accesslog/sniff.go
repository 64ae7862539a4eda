package accesslog

import (
	"bytes"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tapline/tapline/event"
)

// SniffSource looks at a log body that carries no source hint and says which
// access log it is: event.SourceNginx for NginxLogFormat JSON,
// event.SourceMesh for an Envoy/Istio JSON access-log line, "" for anything
// else (application logs, which must pass through untouched). It asks for
// keys only those formats have together, so that an application's JSON log
// with "method" and "path" is not taken for an access log.
func SniffSource(body pcommon.Value) string {
	var keys keySet
	switch body.Type() {
	case pcommon.ValueTypeStr:
		b := bytes.TrimSpace([]byte(body.Str()))
		if len(b) == 0 || b[0] != '{' {
			return ""
		}
		var sc scanner
		_ = sc.scanObject(b, func(key []byte, _ valueKind, _ []byte) { keys.add(string(key)) })
	case pcommon.ValueTypeMap:
		body.Map().Range(func(k string, _ pcommon.Value) bool {
			keys.add(k)
			return true
		})
	default:
		return ""
	}
	switch {
	case keys.has(keyMsec|keyTimeISO) && keys.has(keyRequestID) && keys.all(keyRemoteAddr|keyRequestMethod):
		return event.SourceNginx
	case keys.all(keyStartTime) && keys.has(keyResponseFlags|keyUpstreamCluster|keyResponseCodeDetails):
		return event.SourceMesh
	}
	return ""
}

type keySet uint16

const (
	keyMsec keySet = 1 << iota
	keyTimeISO
	keyRequestID
	keyRemoteAddr
	keyRequestMethod
	keyStartTime
	keyResponseFlags
	keyUpstreamCluster
	keyResponseCodeDetails
)

func (s *keySet) add(k string) {
	switch k {
	case "msec":
		*s |= keyMsec
	case "time_iso8601":
		*s |= keyTimeISO
	case "request_id":
		*s |= keyRequestID
	case "remote_addr":
		*s |= keyRemoteAddr
	case "request_method":
		*s |= keyRequestMethod
	case MeshStartTime:
		*s |= keyStartTime
	case MeshResponseFlags:
		*s |= keyResponseFlags
	case "upstream_cluster":
		*s |= keyUpstreamCluster
	case MeshResponseDetails:
		*s |= keyResponseCodeDetails
	}
}

func (s keySet) has(any keySet) bool { return s&any != 0 }
func (s keySet) all(all keySet) bool { return s&all == all }
