-- Requests to non-public routes that no hop authenticated and none denied.
-- Hops of one request are joined by request id, else trace id (by their
-- 64-bit hash). Whole days [rollup_from, rollup_to) are read from
-- compliance_requests_daily (per request, service and day: whether a hop
-- was guarded, i.e. authenticated, denied or answered 401/403, and the
-- route/path pairs of the unguarded hops), the rest of the period from
-- access_events in the same shape; rows are regrouped by request. Two
-- steps keep the route patterns and strings out of the big aggregation:
-- the requests no hop guarded (numbers only), then the routes and subject
-- of just those.
WITH hops AS
(
    SELECT Request AS key, ServiceName AS service, Guarded AS guarded, First AS first, MaxStatus AS status, Open AS open
    FROM compliance_requests_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
      AND match(ServiceName, {scope_services:String})
    UNION ALL
    SELECT multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                   cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS key,
           ServiceName AS service,
           (Principal != '' AND PrincipalType != {anonymous:String}) OR Decision = {deny:String} OR Status IN (401, 403) AS guarded,
           Timestamp AS first, Status AS status, if(guarded, [], [(toString(Route), Path)]) AS open
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
),
unguarded AS
(
    SELECT key FROM hops GROUP BY key HAVING max(guarded) = 0
)
SELECT day, subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests reached a non-public route with no authenticated principal; statuses ',
              arrayStringConcat(arraySort(groupUniqArray(toString(top_status))), ',')) AS detail
FROM
(
    SELECT key, toDate(min(first), 'UTC') AS day, max(status) AS top_status,
           arrayFilter(x -> NOT (match(x.1, {public_routes:String}) OR match(x.2, {public_routes:String})), groupUniqArrayArray(open)) AS private,
           concat(max(service), ' ', arrayMin(arrayMap(x -> if(x.1 != '', x.1, x.2), private))) AS subject
    FROM hops
    WHERE key IN (SELECT key FROM unguarded)
    GROUP BY key
    HAVING notEmpty(private)
)
GROUP BY day, subject
ORDER BY day, subject
