-- Services seen in access events of the observed sources, per day.
SELECT toDate(Timestamp, 'UTC') AS day, uniqExact(ServiceName) AS population
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
  AND NOT match(ServiceName, {exclude_services:String})
GROUP BY day
ORDER BY day
