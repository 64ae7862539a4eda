-- Connections and edge requests whose cipher suite is not allowed, per
-- day, listener (or source and service) and cipher.
-- Whole days [rollup_from, rollup_to) are read from compliance_tls_daily and
-- compliance_access_daily, the rest of the period from tls_connections and
-- access_events.
SELECT day, subject, 'fail' AS severity, sum(n) AS items,
       concat(toString(sum(n)), ' negotiated ', any(v), ', which is not on the allow-list') AS detail
FROM
(
    SELECT Day AS day, concat('listener ', Listener, ' ', TlsCipher) AS subject, toString(TlsCipher) AS v, sum(Rows) AS n
    FROM compliance_tls_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(Listener, {scope_listeners:String})
      AND Established AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    GROUP BY day, subject, v
    UNION ALL
    SELECT Day AS day, concat(Source, ' ', ServiceName, ' ', TlsCipher) AS subject, toString(TlsCipher) AS v, sum(Rows) AS n
    FROM compliance_access_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    GROUP BY day, subject, v
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' ', TlsCipher) AS subject, toString(TlsCipher) AS v, count() AS n
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Established AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    GROUP BY day, subject, v
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(Source, ' ', ServiceName, ' ', TlsCipher) AS subject, toString(TlsCipher) AS v, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Source IN {edge_sources:Array(String)} AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    GROUP BY day, subject, v
)
GROUP BY day, subject
ORDER BY day, subject
