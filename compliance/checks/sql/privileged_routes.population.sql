-- Access events to privileged routes, per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
  AND arrayExists(p -> Route LIKE p OR Path LIKE p, {routes:Array(String)})
GROUP BY day
ORDER BY day
