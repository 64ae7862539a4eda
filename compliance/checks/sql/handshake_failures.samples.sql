-- Failed handshakes, up to {samples} per day, listener and reason.
SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' ', Failure) AS subject,
       Timestamp AS ts, '' AS TraceId, '' AS RequestId,
       concat('connection ', ConnectionId, ' from ', ClientAddress, ', SNI ', ServerName, ': ', FailureDetail) AS detail
FROM tls_connections
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
  AND NOT Established
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(ConnectionId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
