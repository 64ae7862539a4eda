-- Services seen at the observed sources on a day with no spans, no logs and
-- no application access events that day. Whole days [rollup_from,
-- rollup_to) are read from compliance_access_daily and compliance_minutes,
-- the rest of the period from access_events, otel_traces and otel_logs.
WITH
    seen AS
    (
        SELECT day, ServiceName, sum(c) AS n
        FROM
        (
            SELECT Day AS day, toString(ServiceName) AS ServiceName, sum(Rows) AS c
            FROM compliance_access_daily
            WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
              AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
              AND NOT match(ServiceName, {exclude_services:String})
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, toString(ServiceName) AS ServiceName, count() AS c
            FROM access_events
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
              AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
              AND NOT match(ServiceName, {exclude_services:String})
            GROUP BY day, ServiceName
        )
        GROUP BY day, ServiceName
    ),
    telemetry AS
    (
        SELECT DISTINCT day, ServiceName
        FROM
        (
            SELECT toDate(Minute, 'UTC') AS day, toString(ServiceName) AS ServiceName FROM compliance_minutes
            WHERE Minute >= toDateTime({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Minute < toDateTime({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
              AND Src IN ('otel_traces', 'otel_logs')
            GROUP BY day, ServiceName
            UNION ALL
            SELECT Day AS day, toString(ServiceName) AS ServiceName FROM compliance_access_daily
            WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
              AND Source = {app_source:String}
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, toString(ServiceName) AS ServiceName FROM otel_traces
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, toString(ServiceName) AS ServiceName FROM otel_logs
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, toString(ServiceName) AS ServiceName FROM access_events
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
              AND Source = {app_source:String}
            GROUP BY day, ServiceName
        )
    )
SELECT seen.day AS day, concat('service ', seen.ServiceName) AS subject, 'fail' AS severity, seen.n AS items,
       concat(toString(seen.n), ' requests seen at the edge or in the mesh, no spans, logs or application events that day') AS detail
FROM seen
LEFT ANTI JOIN telemetry ON seen.day = telemetry.day AND seen.ServiceName = telemetry.ServiceName
ORDER BY day, subject
