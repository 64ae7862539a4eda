-- Requests answered 401 or 403 (joined across hops), counted per window
-- per principal (or anonymous client address) and per service. A window
-- above its limit is a spike; per day and subject the peak is reported.
WITH failures AS
(
    SELECT multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                   cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS key,
           min(Timestamp) AS ts, anyIf(Principal, Principal != '') AS principal,
           argMin(ClientAddress, Timestamp) AS client, anyIf(ServiceName, ServiceName != '') AS service
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Status IN (401, 403)
    GROUP BY key
)
SELECT toDate(w, 'UTC') AS day, subject, 'fail' AS severity, sum(n) AS items,
       concat(toString(count()), ' windows over the limit of ', toString(any(lim)), ' per ', toString({window_minutes:UInt32}),
              ' min; peak ', toString(max(n)), ' at ', toString(argMax(w, n)), ' UTC') AS detail
FROM
(
    SELECT toStartOfInterval(ts, toIntervalMinute({window_minutes:UInt32}), 'UTC') AS w,
           concat('principal ', if(principal != '', principal, concat('anonymous@', client))) AS subject,
           count() AS n, {max_per_principal:UInt64} AS lim
    FROM failures
    GROUP BY w, subject
    UNION ALL
    SELECT toStartOfInterval(ts, toIntervalMinute({window_minutes:UInt32}), 'UTC') AS w,
           concat('service ', service) AS subject, count() AS n, {max_per_service:UInt64} AS lim
    FROM failures
    GROUP BY w, subject
)
WHERE n > lim
GROUP BY day, subject
ORDER BY day, subject
