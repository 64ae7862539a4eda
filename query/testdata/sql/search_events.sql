SELECT Timestamp, Duration, toString(Source), toString(ServiceName), toString(Node), RequestId, TraceId, SpanId,
  toString(Method), toString(Scheme), toString(Host), Path, Query, toString(Route), toString(Protocol), Status,
  RequestBytes, ResponseBytes, ClientAddress, ClientPort, UpstreamAddress, UpstreamStatus, UserAgent,
  toString(TlsVersion), toString(TlsCipher), TlsResumed, toString(TlsServerName), MtlsVerified,
  PeerSpiffeId, PeerSubject, PeerIssuer, PeerSerial, PeerNotAfter, PeerFingerprint,
  Principal, toString(PrincipalType), JwtIssuer, JwtSubject, JwtAudience, JwtScopes,
  toString(Decision), toString(Policy), toString(Reason), ConnectionId, Attributes
FROM access_events
WHERE toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({p0:DateTime64(9)}) AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes({p1:DateTime64(9)}) AND Timestamp >= {p0:DateTime64(9)} AND Timestamp < {p1:DateTime64(9)}
  AND Source IN {p2:Array(String)}
  AND ServiceName = {p3:String}
  AND Principal = {p4:String}
  AND Status >= {p5:UInt16} AND Status < {p6:UInt16}
  AND Method = {p7:String}
  AND startsWith(Path, {p8:String})
  AND Decision = {p9:String}
  AND TlsVersion = {p10:String}
  AND RequestId = {p11:String}
  AND TraceId = {p12:String}
ORDER BY Timestamp DESC
LIMIT {p13:UInt32}

-- parameters:
-- p0 = "2025-06-02T10:00:00Z"
-- p1 = "2025-06-02T11:00:00Z"
-- p2 = ["nginx","tap"]
-- p3 = "ordersx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p4 = "px' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p5 = 500
-- p6 = 600
-- p7 = "POST"
-- p8 = "/checkoutx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p9 = "deny"
-- p10 = "1.3"
-- p11 = "rx' OR 1=1) --; DROP TABLE otel_traces; {p0:String}"
-- p12 = "0af7651916cd43dd8448eb211c80319c"
-- p13 = 11
