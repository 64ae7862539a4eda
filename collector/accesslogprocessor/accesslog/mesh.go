package accesslog

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/identity/xfcc"
)

// Mesh field names: the keys of Istio's default JSON access log, plus the
// TLS, identity and trace fields docs/mesh.md adds as labels (OTLP
// attributes) of Envoy's OpenTelemetry access logger. Keys are matched after
// lower-casing and turning '-' and '.' into '_'.
const (
	MeshStartTime          = "start_time"                        // %START_TIME%
	MeshMethod             = "method"                            // %REQ(:METHOD)%
	MeshPath               = "path"                              // %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%
	MeshProtocol           = "protocol"                          // %PROTOCOL%
	MeshResponseCode       = "response_code"                     // %RESPONSE_CODE%
	MeshResponseFlags      = "response_flags"                    // %RESPONSE_FLAGS%
	MeshResponseDetails    = "response_code_details"             // %RESPONSE_CODE_DETAILS%
	MeshUpstreamFailure    = "upstream_transport_failure_reason" // %UPSTREAM_TRANSPORT_FAILURE_REASON%
	MeshDownstreamFailure  = "downstream_transport_failure_reason"
	MeshBytesReceived      = "bytes_received"            // %BYTES_RECEIVED%
	MeshBytesSent          = "bytes_sent"                // %BYTES_SENT%
	MeshDuration           = "duration"                  // %DURATION% (ms)
	MeshUserAgent          = "user_agent"                // %REQ(USER-AGENT)%
	MeshRequestID          = "request_id"                // %REQ(X-REQUEST-ID)%
	MeshAuthority          = "authority"                 // %REQ(:AUTHORITY)%
	MeshUpstreamHost       = "upstream_host"             // %UPSTREAM_HOST%
	MeshDownstreamRemote   = "downstream_remote_address" // %DOWNSTREAM_REMOTE_ADDRESS%
	MeshRequestedSNI       = "requested_server_name"     // %REQUESTED_SERVER_NAME%
	MeshTraceparent        = "traceparent"               // %REQ(TRACEPARENT)%
	MeshTraceID            = "trace_id"                  // %TRACE_ID%
	MeshPeerURISAN         = "downstream_peer_uri_san"   // %DOWNSTREAM_PEER_URI_SAN%
	MeshPeerSubject        = "downstream_peer_subject"   // %DOWNSTREAM_PEER_SUBJECT%
	MeshPeerIssuer         = "downstream_peer_issuer"    // %DOWNSTREAM_PEER_ISSUER%
	MeshPeerSerial         = "downstream_peer_serial"    // %DOWNSTREAM_PEER_SERIAL%
	MeshPeerFingerprint256 = "downstream_peer_fingerprint_256"
	MeshPeerCertVEnd       = "downstream_peer_cert_v_end" // %DOWNSTREAM_PEER_CERT_V_END%
	MeshTLSVersion         = "downstream_tls_version"     // %DOWNSTREAM_TLS_VERSION%
	MeshTLSCipher          = "downstream_tls_cipher"      // %DOWNSTREAM_TLS_CIPHER%
	MeshXFCC               = "x_forwarded_client_cert"    // %REQ(X-FORWARDED-CLIENT-CERT)%
)

// meshKeys are the keys the mapping consumes; the others stay on the record
// as they came.
var meshKeys = map[string]bool{
	MeshStartTime: true, MeshMethod: true, MeshPath: true, MeshProtocol: true,
	MeshResponseCode: true, MeshResponseFlags: true, MeshResponseDetails: true,
	MeshUpstreamFailure: true, MeshDownstreamFailure: true, MeshBytesReceived: true,
	MeshBytesSent: true, MeshDuration: true, MeshUserAgent: true, MeshRequestID: true,
	MeshAuthority: true, MeshUpstreamHost: true, MeshDownstreamRemote: true,
	MeshRequestedSNI: true, MeshTraceparent: true, MeshTraceID: true,
	MeshPeerURISAN: true, MeshPeerSubject: true, MeshPeerIssuer: true, MeshPeerSerial: true,
	MeshPeerFingerprint256: true, MeshPeerCertVEnd: true, MeshTLSVersion: true,
	MeshTLSCipher: true, MeshXFCC: true,
}

// meshKey canonicalises a field name: "X-Request-ID" and "x_request_id"
// name the same field. Aliases map to the names above.
func meshKey(k string) string {
	c := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == '-' || r == '.':
			return '_'
		}
		return r
	}, k)
	switch c {
	case "x_request_id":
		return MeshRequestID
	case "xfcc":
		return MeshXFCC
	case "status", "response_status":
		return MeshResponseCode
	}
	return c
}

// IsMeshKey reports whether k names a field the mesh mapping reads.
func IsMeshKey(k string) bool { return meshKeys[meshKey(k)] }

// MapMesh maps, in place, an Envoy or Istio access-log record: an Envoy
// OpenTelemetry access-logger record (fields as attributes, the body a text
// line or empty) or a record whose body is an Istio/Envoy JSON access-log
// line (a JSON string or an already parsed map). Mapped fields leave the
// attributes; unknown ones stay. If the record holds no request fields it
// is left unchanged and Mapped is false.
func MapMesh(rec plog.LogRecord) Result {
	res := Result{Format: FormatUnknown}
	a := newAccess(event.SourceMesh)
	attrs := rec.Attributes()

	// Decide first, change later: an app log must pass through untouched.
	found := 0
	attrs.Range(func(k string, _ pcommon.Value) bool {
		if IsMeshKey(k) {
			found++
		}
		return true
	})
	body := rec.Body()
	var bodyJSON []byte
	var bodyMap pcommon.Map
	haveMap := false
	switch body.Type() {
	case pcommon.ValueTypeStr:
		if b := bytes.TrimSpace([]byte(body.Str())); len(b) > 0 && b[0] == '{' {
			bodyJSON = b
		}
	case pcommon.ValueTypeMap:
		bodyMap, haveMap = body.Map(), true
	}
	var extra []kv // body fields Tapline does not map, kept as attributes
	if bodyJSON != nil {
		var sc scanner
		n := 0
		err := sc.scanObject(bodyJSON, func(key []byte, _ valueKind, _ []byte) {
			if IsMeshKey(string(key)) {
				n++
			}
		})
		if n >= 2 {
			found += n
			res.Format = FormatJSON
			err = sc.scanObject(bodyJSON, func(key []byte, kind valueKind, val []byte) {
				k, _ := validUTF8(key)
				if kind == kindNull {
					return
				}
				v, bad := validUTF8(val)
				res.InvalidUTF8 = res.InvalidUTF8 || bad
				if IsMeshKey(k) {
					if kind == kindNested {
						a.fail("wrong type for " + strconv.Quote(k))
						res.BadFields++
						return
					}
					if !a.meshField(meshKey(k), v) {
						res.BadFields++
					}
					return
				}
				extra = append(extra, kv{k, v})
			})
			if err == ErrTruncated {
				res.Truncated = true
				a.fail("json line cut short")
			} else if err != nil {
				a.fail("json syntax error")
			}
		} else {
			bodyJSON = nil
		}
	}
	if haveMap {
		n := 0
		bodyMap.Range(func(k string, _ pcommon.Value) bool {
			if IsMeshKey(k) {
				n++
			}
			return true
		})
		if n >= 2 {
			found += n
			res.Format = FormatJSON
		} else {
			haveMap = false
		}
	}
	// A text body in Istio's default format (envoyOtelAls without labels).
	var textFields []kv
	if bodyJSON == nil && !haveMap && body.Type() == pcommon.ValueTypeStr && strings.HasPrefix(body.Str(), "[") {
		line, bad := validUTF8([]byte(body.Str()))
		if tf, ok := parseIstioText(line); ok {
			res.InvalidUTF8 = bad
			textFields = tf
			found += len(tf)
			res.Format = FormatIstioText
		}
	}
	if found < 2 {
		return res
	}
	if res.Format == FormatUnknown {
		res.Format = FormatAttributes
	}

	raw := rawMesh(rec, bodyJSON)
	for _, f := range textFields { // attributes, read below, win over the text
		if IsMeshKey(f.k) {
			if !a.meshField(meshKey(f.k), f.v) {
				res.BadFields++
			}
		} else {
			extra = append(extra, f)
		}
	}
	if haveMap {
		bodyMap.Range(func(k string, v pcommon.Value) bool {
			if IsMeshKey(k) {
				if v.Type() != pcommon.ValueTypeEmpty && !a.meshField(meshKey(k), v.AsString()) {
					res.BadFields++
				}
			} else {
				extra = append(extra, kv{k, v.AsString()})
			}
			return true
		})
	}
	attrs.RemoveIf(func(k string, v pcommon.Value) bool {
		if !IsMeshKey(k) {
			return false
		}
		if v.Type() != pcommon.ValueTypeEmpty && !a.meshField(meshKey(k), v.AsString()) {
			res.BadFields++
		}
		return true
	})
	for _, e := range extra {
		if _, ok := attrs.Get(e.k); !ok && !absent(e.v) {
			attrs.PutStr(e.k, e.v)
		}
	}
	a.meshIdentity()
	if !rec.TraceID().IsEmpty() { // Envoy's own span: keep it
		a.traceID, a.spanID = rec.TraceID(), rec.SpanID()
	}
	if rec.Timestamp() != 0 {
		a.startNano = 0 // Envoy sets the start time itself
	}
	_ = rec.Body().FromRaw(nil) // the line lives on in tapline.raw
	a.write(rec, raw)
	res.Mapped = true
	return res
}

type kv struct{ k, v string }

// rawMesh is the record as the source gave it: the body line if there is
// one, else its attributes as a JSON object with sorted keys.
func rawMesh(rec plog.LogRecord, bodyJSON []byte) string {
	body := rec.Body()
	if bodyJSON != nil { // the body as sent, not the trimmed JSON
		s, _ := validUTF8([]byte(body.Str()))
		return s
	}
	if body.Type() == pcommon.ValueTypeStr && body.Str() != "" {
		s, _ := validUTF8([]byte(body.Str()))
		return s
	}
	fields := map[string]any{}
	rec.Attributes().Range(func(k string, v pcommon.Value) bool {
		fields[k] = v.AsRaw()
		return true
	})
	if body.Type() == pcommon.ValueTypeMap {
		body.Map().Range(func(k string, v pcommon.Value) bool {
			fields[k] = v.AsRaw()
			return true
		})
	}
	b, err := json.Marshal(fields) // encoding/json sorts map keys
	if err != nil {
		return ""
	}
	return string(b)
}

// meshField stores one field; it reports false for an unparseable value.
func (a *access) meshField(key, v string) bool {
	if absent(v) {
		return true
	}
	if !utf8.ValidString(v) { // OTLP strings must be UTF-8; a sender's may not be
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	switch key {
	case MeshStartTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			a.fail("bad start_time")
			return false
		}
		a.startNano = t.UnixNano()
	case MeshMethod:
		a.method = v
	case MeshPath:
		a.splitTarget(v)
	case MeshProtocol:
		a.protocol = ProtocolVersion(v)
	case MeshResponseCode:
		return a.setNumber(&a.status, key, v)
	case MeshResponseFlags:
		a.responseFlags = v
	case MeshResponseDetails:
		a.responseDetails = v
	case MeshUpstreamFailure:
		a.upstreamFailure = v
	case MeshDownstreamFailure:
		a.downstreamFailure = v
	case MeshBytesReceived:
		return a.setNumber(&a.requestBytes, key, v)
	case MeshBytesSent:
		return a.setNumber(&a.responseBytes, key, v)
	case MeshDuration:
		ns, ok := parseDecimalNanos(v, int64(time.Millisecond))
		if !ok {
			a.fail("bad duration")
			return false
		}
		a.duration = ns
	case MeshUserAgent:
		a.userAgent = v
	case MeshRequestID:
		a.requestID = v
	case MeshAuthority:
		a.host = v
	case MeshUpstreamHost:
		a.upstreamAddress = v
	case MeshDownstreamRemote:
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			a.clientAddress = v
			return true
		}
		a.clientAddress = host
		if p, err := strconv.ParseInt(port, 10, 64); err == nil {
			a.clientPort = p
		}
	case MeshRequestedSNI:
		a.serverName = v
	case MeshTraceparent:
		a.setTraceparent(v)
	case MeshTraceID:
		a.setTraceIDText(v)
	case MeshPeerURISAN:
		for _, u := range strings.Split(v, ",") {
			u = strings.TrimSpace(u)
			if strings.HasPrefix(strings.ToLower(u), "spiffe://") {
				a.spiffeID = u
				break
			}
		}
		a.verified = 1
	case MeshPeerSubject:
		a.subject = v
		a.verified = 1
	case MeshPeerIssuer:
		a.issuer = v
	case MeshPeerSerial:
		a.serial = v
	case MeshPeerFingerprint256:
		a.hashSHA256 = v
		a.verified = 1
	case MeshPeerCertVEnd:
		a.notAfter = v
	case MeshTLSVersion:
		a.tlsVersion = v
	case MeshTLSCipher:
		a.tlsCipher = v
	case MeshXFCC:
		a.xfcc = v
	}
	return true
}

// setNumber accepts integers written as JSON numbers or strings ("200",
// "200.0" as some encoders write them).
func (a *access) setNumber(dst *int64, key, v string) bool {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		*dst = n
		return true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1<<62 && f == float64(int64(f)) {
		*dst = int64(f)
		return true
	}
	a.fail("bad " + key)
	return false
}

// meshIdentity settles who the caller was. Envoy logs peer-certificate
// fields only for a certificate its TLS validation accepted, so their
// presence means a verified peer. Fields Envoy did not log are taken from
// the last XFCC element, the one this proxy appended about its own
// downstream peer.
func (a *access) meshIdentity() {
	if a.verified < 0 && a.tlsVersion != "" {
		a.verified = 0
	}
	if a.xfcc == "" {
		return
	}
	els, err := xfcc.Parse(a.xfcc)
	if err != nil {
		a.fail("bad x-forwarded-client-cert: " + err.Error())
		return
	}
	if len(els) == 0 {
		return
	}
	last := els[len(els)-1]
	if a.spiffeID == "" {
		a.spiffeID = last.SPIFFEID()
	}
	if a.subject == "" {
		a.subject = last.Subject
	}
	if a.hashSHA256 == "" {
		a.hashSHA256 = last.Hash
	}
	if a.verified < 0 && last.Hash != "" {
		a.verified = 1
	}
}
