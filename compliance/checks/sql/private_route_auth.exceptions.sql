-- Requests to non-public routes that no hop authenticated and none denied.
-- Hops of one request are joined by request id, else trace id (by their
-- 64-bit hash, which is what is grouped). Two steps keep strings out of
-- the big aggregation: the requests with a hop to a non-public route that
-- no hop authenticated or denied (numbers only), then the subject of just
-- those requests.
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
SELECT day, subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests reached a non-public route with no authenticated principal; statuses ',
              arrayStringConcat(arraySort(groupUniqArray(toString(status))), ',')) AS detail
FROM
(
    SELECT multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                   cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS key,
           toDate(min(Timestamp), 'UTC') AS day,
           concat(max(ServiceName), ' ',
                  minIf(if(Route != '', Route, Path), NOT (match(Route, {public_routes:String}) OR match(Path, {public_routes:String})))) AS subject,
           max(Status) AS status
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND key IN (SELECT key FROM unauthenticated)
    GROUP BY key
)
GROUP BY day, subject
ORDER BY day, subject
