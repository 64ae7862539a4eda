-- Services seen at the observed sources on a day with no spans, no logs and
-- no application access events that day.
WITH
    seen AS
    (
        SELECT toDate(Timestamp, 'UTC') AS day, ServiceName, count() AS n
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
          AND Source IN {observed_sources:Array(String)} AND ServiceName != ''
          AND NOT match(ServiceName, {exclude_services:String})
        GROUP BY day, ServiceName
    ),
    telemetry AS
    (
        SELECT DISTINCT day, ServiceName
        FROM
        (
            SELECT toDate(Timestamp, 'UTC') AS day, ServiceName FROM otel_traces
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, ServiceName FROM otel_logs
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
            GROUP BY day, ServiceName
            UNION ALL
            SELECT toDate(Timestamp, 'UTC') AS day, ServiceName FROM access_events
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
              AND Source = {app_source:String}
            GROUP BY day, ServiceName
        )
    )
SELECT seen.day AS day, concat('service ', seen.ServiceName) AS subject, 'fail' AS severity, seen.n AS items,
       concat(toString(seen.n), ' requests seen at the edge or in the mesh, no spans, logs or application events that day') AS detail
FROM seen
LEFT ANTI JOIN telemetry ON seen.day = telemetry.day AND seen.ServiceName = telemetry.ServiceName
ORDER BY day, subject
