-- Per whole day of the window: the rows each rollup counts per source table
-- (rollup named) and the rows each source table holds (rollup empty). A
-- check reads a day from the rollups only where, for every rollup and
-- source table, the two agree; every other day it reads from the source
-- tables.
SELECT '' AS rollup, 'access_events' AS source, toDate(Timestamp, 'UTC') AS day, count() AS n
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
GROUP BY day
UNION ALL
SELECT '' AS rollup, 'tls_connections' AS source, toDate(Timestamp, 'UTC') AS day, count() AS n
FROM tls_connections
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
GROUP BY day
UNION ALL
SELECT '' AS rollup, 'otel_traces' AS source, toDate(Timestamp, 'UTC') AS day, count() AS n
FROM otel_traces
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
GROUP BY day
UNION ALL
SELECT '' AS rollup, 'otel_logs' AS source, toDate(Timestamp, 'UTC') AS day, count() AS n
FROM otel_logs
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
GROUP BY day
UNION ALL
SELECT 'compliance_access_daily' AS rollup, 'access_events' AS source, Day AS day, sum(Rows) AS n
FROM compliance_access_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY day
UNION ALL
SELECT 'compliance_tls_daily' AS rollup, 'tls_connections' AS source, Day AS day, sum(Rows) AS n
FROM compliance_tls_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY day
UNION ALL
SELECT 'compliance_certs_daily' AS rollup, toString(Origin) AS source, Day AS day, sum(Rows) AS n
FROM compliance_certs_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY source, day
UNION ALL
SELECT 'compliance_skew_daily' AS rollup, toString(Origin) AS source, Day AS day, sum(Rows) AS n
FROM compliance_skew_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY source, day
UNION ALL
SELECT 'compliance_minutes' AS rollup, if(startsWith(Src, 'access_events/'), 'access_events', toString(Src)) AS source,
       toDate(Minute, 'UTC') AS day, sum(Rows) AS n
FROM compliance_minutes
WHERE Minute >= toDateTime({from:DateTime64(9, 'UTC')}, 'UTC') AND Minute < toDateTime({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY source, day
UNION ALL
SELECT 'compliance_requests_daily' AS rollup, 'access_events' AS source, Day AS day, sum(Rows) AS n
FROM compliance_requests_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY day
UNION ALL
SELECT 'compliance_traces_daily' AS rollup, 'otel_traces' AS source, Day AS day, sum(Rows) AS n
FROM compliance_traces_daily
WHERE Day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({to:DateTime64(9, 'UTC')}, 'UTC')
GROUP BY day
