-- Services seen in access events of the observed sources, per day. Whole
-- days [rollup_from, rollup_to) are read from compliance_access_daily, the
-- rest of the period from access_events.
SELECT day, uniqExact(ServiceName) AS population
FROM
(
    SELECT Day AS day, ServiceName
    FROM compliance_access_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
      AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
      AND NOT match(ServiceName, {exclude_services:String})
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, ServiceName
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
      AND NOT match(ServiceName, {exclude_services:String})
)
GROUP BY day
ORDER BY day
