-- Requests with a token from an issuer or for an audience not allowed, up
-- to {samples} per day and subject.
SELECT toDate(Timestamp, 'UTC') AS day, concat('issuer ', JwtIssuer, ' audience ', JwtAudience) AS subject,
       Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', ServiceName, ' ', Method, ' ', Path, ', subject ', JwtSubject, ', status ', toString(Status)) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND JwtIssuer != ''
  AND (NOT has({issuers:Array(String)}, JwtIssuer)
       OR (length({audiences:Array(String)}) > 0 AND NOT hasAny({audiences:Array(String)}, arrayMap(x -> trimBoth(x), splitByChar(',', JwtAudience)))))
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
