-- Requests at the edge sources, and requests to internal-only services,
-- per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND (Source IN {edge_sources:Array(String)} OR match(ServiceName, {internal_services:String}))
GROUP BY day
ORDER BY day
