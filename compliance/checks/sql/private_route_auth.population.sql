-- Access events (every hop) to routes that are not public, per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND NOT (match(Route, {public_routes:String}) OR match(Path, {public_routes:String}))
GROUP BY day
ORDER BY day
