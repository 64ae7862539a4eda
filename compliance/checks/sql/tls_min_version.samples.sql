-- Connections and requests below the minimum version, up to {samples} per
-- day and subject.
SELECT day, subject, ts, TraceId, RequestId, detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' TLS ', TlsVersion) AS subject,
           Timestamp AS ts, '' AS TraceId, '' AS RequestId,
           concat('connection ', ConnectionId, ' from ', ClientAddress, ', ', TlsVersion, ' ', TlsCipher,
                  if(PeerSubject != '', concat(', client ', PeerSubject), '')) AS detail,
           cityHash64(ConnectionId, Timestamp, {seed:UInt64}) AS h
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND TlsVersion != ''
      AND toFloat64OrZero(TlsVersion) < toFloat64({min_version:String})
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(Source, ' ', ServiceName, ' TLS ', TlsVersion) AS subject,
           Timestamp AS ts, TraceId, RequestId,
           concat(Method, ' ', Host, Path, ' from ', ClientAddress, ', ', TlsVersion, ' ', TlsCipher) AS detail,
           cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64}) AS h
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsVersion != ''
      AND toFloat64OrZero(TlsVersion) < toFloat64({min_version:String})
)
WHERE has({subjects:Array(String)}, subject)
ORDER BY day, subject, h
LIMIT {samples:UInt32} BY day, subject
