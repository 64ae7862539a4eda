-- Hops of unauthenticated requests to non-public routes, up to {samples}
-- requests per day and subject (the requests of the exceptions query).
WITH unauthenticated AS
(
    SELECT multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                   cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS key
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
    GROUP BY key
    HAVING max(NOT (match(Route, {public_routes:String}) OR match(Path, {public_routes:String}))) = 1
       AND max(Principal != '' AND PrincipalType != {anonymous:String}) = 0
       AND max(Decision = {deny:String} OR Status IN (401, 403)) = 0
)
SELECT toDate(min(Timestamp), 'UTC') AS day,
       concat(max(ServiceName), ' ',
              minIf(if(Route != '', Route, Path), NOT (match(Route, {public_routes:String}) OR match(Path, {public_routes:String})))) AS subject,
       min(Timestamp) AS ts, any(TraceId) AS trace_id, any(RequestId) AS request_id,
       concat(arrayStringConcat(arraySort(groupUniqArray(Source)), '+'), ' ', argMin(Method, Timestamp), ' ', argMin(Path, Timestamp), ' from ', argMin(ClientAddress, Timestamp),
              ', status ', toString(max(Status)), ', principal type ',
              arrayStringConcat(arraySort(groupUniqArray(if(PrincipalType = '', 'none', PrincipalType))), ',')) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
              cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) IN (SELECT key FROM unauthenticated)
GROUP BY multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                 cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort))
HAVING has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(request_id, trace_id, ts, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
