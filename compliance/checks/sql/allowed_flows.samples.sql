-- Requests in undeclared flows, up to {samples} per day and flow.
SELECT toDate(Timestamp, 'UTC') AS day, concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), ' -> ', ServiceName) AS subject,
       Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', Method, ' ', Path, ', status ', toString(Status), ', decision ', Decision) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {sources:Array(String)}
  AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
  AND NOT match(concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), '\t', ServiceName), {flows:String})
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
