-- Distinct client certificates in use per day (from established
-- connections at the tap and from access events of every source). Whole
-- days [rollup_from, rollup_to) are read from compliance_certs_daily, the
-- rest of the period from tls_connections and access_events.
SELECT day, uniqExact(cert) AS population
FROM
(
    SELECT Day AS day, Cert AS cert
    FROM compliance_certs_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
      AND ((Origin = 'tls_connections' AND Established AND match(Listener, {scope_listeners:String}))
           OR (Origin = 'access_events' AND match(ServiceName, {scope_services:String})))
      AND HasNotAfter
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Established AND PeerNotAfter > toDateTime(0, 'UTC')
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND PeerNotAfter > toDateTime(0, 'UTC')
)
GROUP BY day
ORDER BY day
