-- Connections and edge requests whose cipher suite is not allowed, per
-- day, listener (or source and service) and cipher.
SELECT day, subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' negotiated ', any(TlsCipher), ', which is not on the allow-list') AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' ', TlsCipher) AS subject, TlsCipher
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(Source, ' ', ServiceName, ' ', TlsCipher) AS subject, TlsCipher
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsCipher != '' AND NOT has({allowed:Array(String)}, TlsCipher)
)
GROUP BY day, subject
ORDER BY day, subject
