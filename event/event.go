// Package event pins the names of Tapline's events and their attributes in one
// place. Access and TLS events are OTLP log records whose event name is
// AccessEvent or TLSEvent; their attributes follow the OpenTelemetry semantic
// conventions where one exists (many tls.* names are still of "development"
// stability, so they are only ever spelled here) and use tapline.* otherwise.
//
// Every producer (the collector's access-log processor, the proxy tap) and the
// one consumer (ingest) use these constants; nothing else spells the names.
package event

// Event names (LogRecord.EventName).
const (
	AccessEvent = "tapline.access" // one request seen at one hop
	TLSEvent    = "tapline.tls"    // one TLS connection (or failed handshake) at the tap
	DropEvent   = "tapline.drop"   // events a producer had to drop, reported once it could publish again
)

// Sources of access events (access_events.Source).
const (
	SourceNginx = "nginx"
	SourceMesh  = "mesh"
	SourceTap   = "tap"
	SourceApp   = "app"
	SourceAPI   = "api"
)

// Decisions of a policy (tapline.decision).
const (
	DecisionAllow   = "allow"
	DecisionDeny    = "deny"
	DecisionObserve = "observe" // allowed, but the policy would have denied
)

// Principal types (tapline.principal.type).
const (
	PrincipalSPIFFE    = "spiffe"
	PrincipalJWT       = "jwt"
	PrincipalCert      = "cert"
	PrincipalAnonymous = "anonymous"
	PrincipalToken     = "token" // a static API token of the query API
)

// Semantic-convention attribute keys.
const (
	AttrServiceName        = "service.name"
	AttrHTTPMethod         = "http.request.method"
	AttrHTTPRoute          = "http.route"
	AttrHTTPStatus         = "http.response.status_code"
	AttrHTTPRequestSize    = "http.request.body.size"
	AttrHTTPResponseSize   = "http.response.body.size"
	AttrURLPath            = "url.path"
	AttrURLQuery           = "url.query"
	AttrURLScheme          = "url.scheme"
	AttrServerAddress      = "server.address"
	AttrServerPort         = "server.port"
	AttrClientAddress      = "client.address"
	AttrClientPort         = "client.port"
	AttrUserAgent          = "user_agent.original"
	AttrNetworkProtocol    = "network.protocol.version" // "1.1", "2"
	AttrUpstreamAddress    = "tapline.upstream.address"
	AttrUpstreamStatus     = "tapline.upstream.status"
	AttrTLSProtocolVersion = "tls.protocol.version" // "1.3", never "TLSv1.3"
	AttrTLSCipher          = "tls.cipher"           // IANA name, as tls.CipherSuiteName gives it
	AttrTLSResumed         = "tls.resumed"
	AttrTLSServerName      = "tls.server_name"
	AttrTLSEstablished     = "tls.established"
	AttrTLSClientSubject   = "tls.client.subject"
	AttrTLSClientIssuer    = "tls.client.issuer"
	AttrTLSClientNotAfter  = "tls.client.not_after" // RFC 3339, UTC
	AttrTLSClientNotBefore = "tls.client.not_before"
	AttrTLSClientSerial    = "tls.client.serial"                  // uppercase hex
	AttrTLSClientHash      = "tls.client.hash.sha256"             // uppercase hex of the leaf certificate
	AttrTLSClientHashSHA1  = "tls.client.hash.sha1"               // uppercase hex; all nginx's $ssl_client_fingerprint gives
	AttrIncomingRequestID  = "http.request.header.x-request-id"   // a client's own X-Request-ID when the hop replaced it
	AttrUpstreamRespTime   = "tapline.upstream.response_time"     // nginx $upstream_response_time as given (seconds; a list when retried)
	AttrTLSALPN            = "tls.next_protocol"                  // negotiated ALPN protocol
	AttrEnduserID          = "enduser.id"                         // the principal, as the conventions name it
	AttrUserRoles          = "user.roles"                         // JWT scopes/roles
	AttrErrorType          = "error.type"                         // failure reason, machine readable
	AttrDurationNanos      = "tapline.duration_ns"                // request duration at this hop
	AttrPeerSPIFFEID       = "tapline.peer.spiffe_id"             // SPIFFE ID from the verified URI SAN
	AttrMTLSVerified       = "tapline.mtls.verified"              // bool: a client certificate was verified
	AttrClientVerify       = "tapline.tls.client_verify"          // nginx $ssl_client_verify as sent
	AttrXFCC               = "tapline.xfcc"                       // x-forwarded-client-cert as received
	AttrConnectionID       = "tapline.connection_id"              // joins access events to their TLS connection
	AttrTLSFailure         = "tapline.tls.failure"                // handshake failure reason, see TLSFailure*
	AttrListener           = "tapline.listener"                   // listener name or address at the tap
	AttrResponseFlags      = "tapline.mesh.response_flags"        // Envoy %RESPONSE_FLAGS%
	AttrResponseDetails    = "tapline.mesh.response_code_details" // Envoy %RESPONSE_CODE_DETAILS%
	AttrUpstreamFailure    = "tapline.mesh.upstream_failure"      // Envoy %UPSTREAM_TRANSPORT_FAILURE_REASON%
	AttrDownstreamFailure  = "tapline.mesh.downstream_failure"    // Envoy %DOWNSTREAM_TRANSPORT_FAILURE_REASON%
	AttrDropCount          = "tapline.drop.count"                 // with DropEvent
	AttrDropReason         = "tapline.drop.reason"                // with DropEvent
	AttrJWTIssuer          = "tapline.jwt.issuer"                 //
	AttrJWTSubject         = "tapline.jwt.subject"                //
	AttrJWTAudience        = "tapline.jwt.audience"               // comma-separated
	AttrIdentityChain      = "tapline.identity.chain"             // JSON: every identity seen, in precedence order
	AttrPolicy             = "tapline.policy"                     // policy (route) that decided
	AttrReason             = "tapline.reason"                     // machine-readable decision reason
	AttrNode               = "tapline.node"                       // host or pod the hop ran on
	AttrRaw                = "tapline.raw"                        // the source's raw line, kept whole
	AttrSource             = "tapline.source"                     // nginx|mesh|tap|app|api
	AttrRequestID          = "tapline.request_id"                 // X-Request-ID
	AttrTraceID            = "tapline.trace_id"                   // W3C trace id (hex) when not in the record's TraceId
	AttrPrincipal          = "tapline.principal"                  //
	AttrPrincipalType      = "tapline.principal.type"             // spiffe|jwt|cert|anonymous
	AttrDecision           = "tapline.decision"                   // allow|deny|observe
	AttrParseError         = "tapline.parse_error"                // why a source line could not be mapped fully
)

// TLS handshake failure reasons (tapline.tls.failure), machine readable in the
// manner of Pomerium's deny reasons.
const (
	TLSFailureNoCertificate  = "no-client-certificate"
	TLSFailureUnknownCA      = "unknown-certificate-authority"
	TLSFailureExpired        = "certificate-expired"
	TLSFailureNotYetValid    = "certificate-not-yet-valid"
	TLSFailureBadSNI         = "bad-server-name"
	TLSFailureVersionTooLow  = "protocol-version-too-low"
	TLSFailureNoSharedCipher = "no-shared-cipher"
	TLSFailureBadCertificate = "bad-certificate"
	TLSFailureNotTLS         = "not-tls"
	TLSFailureTimeout        = "handshake-timeout"
	TLSFailureOther          = "handshake-failed"
)
