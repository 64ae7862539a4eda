-- Requests whose identity was revoked at or before their time. Revocations
-- come from the compliance_revocations table and from the configured list
-- (bound as three arrays); the earliest revocation of an identity counts.
WITH revoked AS
(
    SELECT Identity, min(RevokedAt) AS FirstRevokedAt, argMin(Reason, RevokedAt) AS FirstReason
    FROM
    (
        SELECT Identity, RevokedAt, Reason FROM compliance_revocations
        UNION ALL
        SELECT tupleElement(r, 1) AS Identity, tupleElement(r, 2) AS RevokedAt, tupleElement(r, 3) AS Reason
        FROM (SELECT arrayJoin(arrayZip({identities:Array(String)}, {revoked_at:Array(DateTime64(3, 'UTC'))}, {reasons:Array(String)})) AS r)
    )
    GROUP BY Identity
)
SELECT toDate(a.Timestamp, 'UTC') AS day, concat('identity ', a.ident) AS subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests after revocation at ', toString(any(r.FirstRevokedAt)), ' UTC (', any(r.FirstReason), ')') AS detail
FROM
(
    SELECT Timestamp, arrayJoin(arrayDistinct(arrayFilter(x -> x != '', [Principal, PeerSpiffeId, PeerSerial, PeerFingerprint, JwtSubject]))) AS ident
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (Principal IN (SELECT Identity FROM revoked) OR PeerSpiffeId IN (SELECT Identity FROM revoked)
           OR PeerSerial IN (SELECT Identity FROM revoked) OR PeerFingerprint IN (SELECT Identity FROM revoked)
           OR JwtSubject IN (SELECT Identity FROM revoked))
) AS a
INNER JOIN revoked AS r ON a.ident = r.Identity
WHERE a.Timestamp >= r.FirstRevokedAt
GROUP BY day, subject
ORDER BY day, subject
