-- Successful TLS connections at the tap, and TLS requests seen at the edge
-- sources, per day. Whole days [rollup_from, rollup_to) are read from
-- compliance_tls_daily and compliance_access_daily, the rest of the period
-- from tls_connections and access_events.
SELECT day, sum(n) AS population
FROM
(
    SELECT Day AS day, sum(Rows) AS n
    FROM compliance_tls_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(Listener, {scope_listeners:String})
      AND Established
    GROUP BY day
    UNION ALL
    SELECT Day AS day, sum(Rows) AS n
    FROM compliance_access_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsVersion != ''
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Established
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Source IN {edge_sources:Array(String)} AND TlsVersion != ''
    GROUP BY day
)
GROUP BY day
ORDER BY day
