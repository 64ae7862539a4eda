-- Connections and requests with a cipher suite not allowed, up to
-- {samples} per day and subject.
SELECT day, subject, ts, TraceId, RequestId, detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' ', TlsCipher) AS subject,
           Timestamp AS ts, '' AS TraceId, '' AS RequestId,
           concat('connection ', ConnectionId, ' from ', ClientAddress, ', TLS ', TlsVersion) AS detail,
           cityHash64(ConnectionId, Timestamp, {seed:UInt64}) AS h
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(Source, ' ', ServiceName, ' ', TlsCipher) AS subject,
           Timestamp AS ts, TraceId, RequestId,
           concat(Method, ' ', Host, Path, ' from ', ClientAddress, ', TLS ', TlsVersion) AS detail,
           cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64}) AS h
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
)
WHERE has({subjects:Array(String)}, subject)
ORDER BY day, subject, h
LIMIT {samples:UInt32} BY day, subject
