package accesslog

import "strings"

// istioTextFields are the fields of Istio's default text access-log format
// (what an envoyOtelAls provider without logFormat sends as the body, and
// what sidecars write with accessLogEncoding TEXT):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//	"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
//	%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//	%REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// named by the keys of Istio's JSON format; quoted marks the quoted ones.
var istioTextFields = []struct {
	key    string
	quoted bool
}{
	{MeshResponseCode, false}, {MeshResponseFlags, false}, {MeshResponseDetails, false},
	{"connection_termination_details", false}, {MeshUpstreamFailure, true},
	{MeshBytesReceived, false}, {MeshBytesSent, false}, {MeshDuration, false},
	{"upstream_service_time", false}, {"x_forwarded_for", true}, {MeshUserAgent, true},
	{MeshRequestID, true}, {MeshAuthority, true}, {MeshUpstreamHost, true},
	{"upstream_cluster", false}, {"upstream_local_address", false},
	{"downstream_local_address", false}, {MeshDownstreamRemote, false},
	{MeshRequestedSNI, false}, {"route_name", false},
}

// parseIstioText splits a line of Istio's default text format into fields
// named as in its JSON format; ok is false unless the whole line fits.
func parseIstioText(line string) (fields []kv, ok bool) {
	f := fieldReader{s: strings.TrimRight(line, "\r\n")}
	start, ok := f.bracketed()
	if !ok {
		return nil, false
	}
	request, ok := f.quoted()
	if !ok {
		return nil, false
	}
	fields = append(fields, kv{MeshStartTime, start})
	if parts := strings.Split(request, " "); len(parts) == 3 {
		fields = append(fields, kv{MeshMethod, parts[0]}, kv{MeshPath, parts[1]}, kv{MeshProtocol, parts[2]})
	} else if request != "- - -" {
		return nil, false
	}
	for _, fd := range istioTextFields {
		var v string
		if fd.quoted {
			v, ok = f.quoted()
		} else {
			v, ok = f.word()
		}
		if !ok {
			return nil, false
		}
		fields = append(fields, kv{fd.key, v})
	}
	if f.skip(); f.pos != len(f.s) {
		return nil, false
	}
	return fields, true
}
