-- Certificates used on a day with less than warn_days (warn) or fail_days
-- (fail, expired included) left after their last use that day. Whole days
-- [rollup_from, rollup_to) are read from compliance_certs_daily, the rest
-- of the period from tls_connections and access_events.
SELECT day, subject, if(seconds_left < {fail_days:UInt32} * 86400, 'fail', 'warn') AS severity, uses AS items,
       concat('not after ', toString(not_after), ' UTC, last used ', toString(last_used), ' UTC: ',
              if(seconds_left < 0, concat('expired ', toString(intDiv(-seconds_left, 86400)), ' days ', toString(intDiv(-seconds_left % 86400, 3600)), ' h before use'),
                 concat(toString(intDiv(seconds_left, 86400)), ' days left'))) AS detail
FROM
(
    SELECT day, cert, concat(if(any(subj) != '', any(subj), any(spiffe)), ' (serial ', any(serial), ')') AS subject,
           max(na) AS not_after, max(ts) AS last_used, sum(n) AS uses,
           dateDiff('second', max(ts), max(na)) AS seconds_left
    FROM
    (
        SELECT Day AS day, Cert AS cert, any(Subject) AS subj, any(SpiffeId) AS spiffe, any(Serial) AS serial,
               max(NotAfter) AS na, max(LastUsed) AS ts, sum(Rows) AS n
        FROM compliance_certs_daily
        WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
          AND ((Origin = 'tls_connections' AND Established AND match(Listener, {scope_listeners:String}))
               OR (Origin = 'access_events' AND match(ServiceName, {scope_services:String})))
          AND HasNotAfter
        GROUP BY day, cert
        UNION ALL
        SELECT toDate(Timestamp, 'UTC') AS day, if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert,
               any(PeerSubject) AS subj, any(PeerSpiffeId) AS spiffe, any(PeerSerial) AS serial,
               max(PeerNotAfter) AS na, max(toDateTime(Timestamp, 'UTC')) AS ts, count() AS n
        FROM tls_connections
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
          AND Established AND PeerNotAfter > toDateTime(0, 'UTC')
        GROUP BY day, cert
        UNION ALL
        SELECT toDate(Timestamp, 'UTC') AS day, if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert,
               any(PeerSubject) AS subj, any(PeerSpiffeId) AS spiffe, any(PeerSerial) AS serial,
               max(PeerNotAfter) AS na, max(toDateTime(Timestamp, 'UTC')) AS ts, count() AS n
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
          AND PeerNotAfter > toDateTime(0, 'UTC')
        GROUP BY day, cert
    )
    GROUP BY day, cert
)
WHERE seconds_left < {warn_days:UInt32} * 86400
ORDER BY day, subject
