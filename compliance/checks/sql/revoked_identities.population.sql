-- Requests carrying any identity (principal, SPIFFE ID, certificate serial
-- or fingerprint, JWT subject), per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND (Principal != '' OR PeerSpiffeId != '' OR PeerSerial != '' OR PeerFingerprint != '' OR JwtSubject != '')
GROUP BY day
ORDER BY day
