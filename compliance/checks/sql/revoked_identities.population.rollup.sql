-- Requests carrying any identity (principal, SPIFFE ID, certificate serial
-- or fingerprint, JWT subject), per day. Whole days [rollup_from,
-- rollup_to) are read from compliance_requests_daily (Identified counts
-- those hops), the rest of the period from access_events.
SELECT day, sum(n) AS population
FROM
(
    SELECT Day AS day, sum(Identified) AS n
    FROM compliance_requests_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
      AND match(ServiceName, {scope_services:String})
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND (Principal != '' OR PeerSpiffeId != '' OR PeerSerial != '' OR PeerFingerprint != '' OR JwtSubject != '')
    GROUP BY day
)
GROUP BY day
HAVING population > 0
ORDER BY day
