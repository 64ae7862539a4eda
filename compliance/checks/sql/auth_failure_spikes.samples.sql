-- Requests answered 401 or 403, up to {samples} per day and subject (per
-- principal and per service).
WITH failures AS
(
    SELECT multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
                   cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS key,
           min(Timestamp) AS ts, anyIf(Principal, Principal != '') AS principal,
           argMin(ClientAddress, Timestamp) AS client, anyIf(ServiceName, ServiceName != '') AS service,
           any(TraceId) AS trace_id, any(RequestId) AS request_id,
           concat(any(Method), ' ', any(Path), ', status ', toString(max(Status)), ', reason ', anyIf(Reason, Reason != '')) AS detail
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Status IN (401, 403)
    GROUP BY key
)
SELECT day, subject, ts, trace_id, request_id, detail
FROM
(
    SELECT toDate(ts, 'UTC') AS day, concat('principal ', if(principal != '', principal, concat('anonymous@', client))) AS subject,
           ts, trace_id, request_id, detail, key
    FROM failures
    UNION ALL
    SELECT toDate(ts, 'UTC') AS day, concat('service ', service) AS subject, ts, trace_id, request_id, detail, key
    FROM failures
)
WHERE has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(key, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
