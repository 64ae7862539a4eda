-- Privileged calls by principals outside the privileged set, up to
-- {samples} per day and subject.
SELECT toDate(Timestamp, 'UTC') AS day,
       concat(if(Principal != '', Principal, '(no principal)'), ' -> ', ServiceName, ' ', if(Route != '', Route, Path)) AS subject,
       Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', Method, ' ', Path, ', status ', toString(Status), ', decision ', Decision, ', policy ', Policy) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND (match(Route, {routes:String}) OR match(Path, {routes:String}))
  AND NOT (Decision = {deny:String} OR Status IN (401, 403))
  AND NOT (Principal != '' AND match(Principal, {principals:String}))
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
