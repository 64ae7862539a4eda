-- Requests with an identified caller (SPIFFE ID, else principal) at the
-- given sources, per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {sources:Array(String)}
  AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
GROUP BY day
ORDER BY day
