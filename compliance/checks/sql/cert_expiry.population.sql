-- Distinct client certificates in use per day (from established
-- connections at the tap and from access events of every source).
SELECT day, uniqExact(cert) AS population
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day,
           if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND PeerNotAfter > toDateTime(0, 'UTC')
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day,
           if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND PeerNotAfter > toDateTime(0, 'UTC')
)
GROUP BY day
ORDER BY day
