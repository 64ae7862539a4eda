-- Uses of certificates near or past expiry, up to {samples} per day and
-- certificate.
SELECT day, subject, ts, TraceId, RequestId, detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day,
           concat(if(PeerSubject != '', PeerSubject, PeerSpiffeId), ' (serial ', PeerSerial, ')') AS subject,
           Timestamp AS ts, '' AS TraceId, '' AS RequestId,
           concat('connection ', ConnectionId, ' at listener ', Listener, ' from ', ClientAddress, ', issuer ', PeerIssuer) AS detail,
           cityHash64(ConnectionId, Timestamp, {seed:UInt64}) AS h
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND PeerNotAfter > toDateTime(0, 'UTC')
      AND dateDiff('second', toDateTime(Timestamp, 'UTC'), PeerNotAfter) < {warn_days:UInt32} * 86400
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day,
           concat(if(PeerSubject != '', PeerSubject, PeerSpiffeId), ' (serial ', PeerSerial, ')') AS subject,
           Timestamp AS ts, TraceId, RequestId,
           concat(Source, ' ', Method, ' ', Path, ' from ', ClientAddress, ', issuer ', PeerIssuer) AS detail,
           cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64}) AS h
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND PeerNotAfter > toDateTime(0, 'UTC')
      AND dateDiff('second', toDateTime(Timestamp, 'UTC'), PeerNotAfter) < {warn_days:UInt32} * 86400
)
WHERE has({subjects:Array(String)}, subject)
ORDER BY day, subject, h
LIMIT {samples:UInt32} BY day, subject
