-- Plain-HTTP edge requests and outside requests to internal services, up
-- to {samples} per day and subject.
SELECT toDate(Timestamp, 'UTC') AS day,
       if(Source IN {edge_sources:Array(String)} AND TlsVersion = '' AND Scheme != 'https'
              AND NOT ({allow_redirects:Bool} AND Status IN (301, 302, 307, 308)),
          concat('plain HTTP at ', Source, ' ', Host),
          concat('outside request to internal service ', ServiceName)) AS subject,
       Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', Scheme, '://', Host, Path, ' from ', ClientAddress, ', status ', toString(Status)) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND (
        (Source IN {edge_sources:Array(String)} AND TlsVersion = '' AND Scheme != 'https'
         AND NOT ({allow_redirects:Bool} AND Status IN (301, 302, 307, 308)))
     OR (match(ServiceName, {internal_services:String}) AND Status BETWEEN 1 AND 399
         AND (Source IN {edge_sources:Array(String)}
              OR ((isIPv4String(ClientAddress) OR isIPv6String(ClientAddress))
                  AND NOT arrayExists(n -> isIPAddressInRange(ClientAddress, n), {internal_networks:Array(String)}))))
      )
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
