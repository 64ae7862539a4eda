-- TLS connection attempts at the tap per day.
SELECT toDate(Timestamp, 'UTC') AS day, count() AS population
FROM tls_connections
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
GROUP BY day
ORDER BY day
