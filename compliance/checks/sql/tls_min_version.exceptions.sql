-- Connections and edge requests below the minimum TLS version, per day,
-- listener (or source and service) and version. A version that does not
-- read as a number (SSLv3) counts as below.
SELECT day, subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' with TLS ', any(TlsVersion), ' (minimum ', {min_version:String}, ')') AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, concat('listener ', Listener, ' TLS ', TlsVersion) AS subject, TlsVersion
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established AND TlsVersion != ''
      AND toFloat64OrZero(TlsVersion) < toFloat64({min_version:String})
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(Source, ' ', ServiceName, ' TLS ', TlsVersion) AS subject, TlsVersion
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsVersion != ''
      AND toFloat64OrZero(TlsVersion) < toFloat64({min_version:String})
)
GROUP BY day, subject
ORDER BY day, subject
