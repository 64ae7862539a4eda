-- Requests made with a revoked identity, up to {samples} per day and
-- identity.
WITH revoked AS
(
    SELECT Identity, min(RevokedAt) AS FirstRevokedAt
    FROM
    (
        SELECT Identity, RevokedAt FROM compliance_revocations
        UNION ALL
        SELECT tupleElement(r, 1) AS Identity, tupleElement(r, 2) AS RevokedAt
        FROM (SELECT arrayJoin(arrayZip({identities:Array(String)}, {revoked_at:Array(DateTime64(3, 'UTC'))})) AS r)
    )
    GROUP BY Identity
)
SELECT toDate(a.Timestamp, 'UTC') AS day, concat('identity ', a.ident) AS subject, a.Timestamp AS ts, a.TraceId, a.RequestId,
       concat(a.Source, ' ', a.ServiceName, ' ', a.Method, ' ', a.Path, ', status ', toString(a.Status), ', decision ', a.Decision) AS detail
FROM
(
    SELECT Timestamp, TraceId, RequestId, Source, ServiceName, Method, Path, Status, Decision,
           arrayJoin(arrayDistinct(arrayFilter(x -> x != '', [Principal, PeerSpiffeId, PeerSerial, PeerFingerprint, JwtSubject]))) AS ident
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (Principal IN (SELECT Identity FROM revoked) OR PeerSpiffeId IN (SELECT Identity FROM revoked)
           OR PeerSerial IN (SELECT Identity FROM revoked) OR PeerFingerprint IN (SELECT Identity FROM revoked)
           OR JwtSubject IN (SELECT Identity FROM revoked))
) AS a
INNER JOIN revoked AS r ON a.ident = r.Identity
WHERE a.Timestamp >= r.FirstRevokedAt
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(a.RequestId, a.TraceId, a.Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
