-- Certificates used on a day with less than warn_days (warn) or fail_days
-- (fail, expired included) left after their last use that day.
SELECT day, subject, if(seconds_left < {fail_days:UInt32} * 86400, 'fail', 'warn') AS severity, uses AS items,
       concat('not after ', toString(not_after), ' UTC, last used ', toString(last_used), ' UTC: ',
              if(seconds_left < 0, concat('expired ', toString(intDiv(-seconds_left, 86400)), ' days ', toString(intDiv(-seconds_left % 86400, 3600)), ' h before use'),
                 concat(toString(intDiv(seconds_left, 86400)), ' days left'))) AS detail
FROM
(
    SELECT day, cert, concat(if(any(PeerSubject) != '', any(PeerSubject), any(PeerSpiffeId)), ' (serial ', any(PeerSerial), ')') AS subject,
           max(PeerNotAfter) AS not_after, max(ts) AS last_used, count() AS uses,
           dateDiff('second', max(ts), max(PeerNotAfter)) AS seconds_left
    FROM
    (
        SELECT toDate(Timestamp, 'UTC') AS day, toDateTime(Timestamp, 'UTC') AS ts, PeerNotAfter,
               if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert,
               PeerSubject, PeerSpiffeId, PeerSerial
        FROM tls_connections
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
          AND Established AND PeerNotAfter > toDateTime(0, 'UTC')
        UNION ALL
        SELECT toDate(Timestamp, 'UTC') AS day, toDateTime(Timestamp, 'UTC') AS ts, PeerNotAfter,
               if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS cert,
               PeerSubject, PeerSpiffeId, PeerSerial
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
          AND PeerNotAfter > toDateTime(0, 'UTC')
    )
    GROUP BY day, cert
)
WHERE seconds_left < {warn_days:UInt32} * 86400
ORDER BY day, subject
