-- Requests to services seen at the observed sources, up to {samples} per
-- day and service (only those of services without telemetry are shown).
SELECT toDate(Timestamp, 'UTC') AS day, concat('service ', ServiceName) AS subject, Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', Method, ' ', Host, Path, ', status ', toString(Status)) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
  AND NOT match(ServiceName, {exclude_services:String})
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
