-- Plain-HTTP requests at the edge (redirects aside when allowed), and
-- successful requests to internal-only services seen at the edge or from a
-- client address outside the internal networks; per day and subject.
SELECT day, subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests; statuses ', arrayStringConcat(arraySort(groupUniqArray(toString(Status))), ','),
              '; clients ', arrayStringConcat(arraySlice(arraySort(groupUniqArray(ClientAddress)), 1, 5), ',')) AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, Status, ClientAddress,
           if(Source IN {edge_sources:Array(String)} AND TlsVersion = '' AND Scheme != 'https'
                  AND NOT ({allow_redirects:Bool} AND Status IN (301, 302, 307, 308)),
              concat('plain HTTP at ', Source, ' ', Host),
              concat('outside request to internal service ', ServiceName)) AS subject
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
)
GROUP BY day, subject
ORDER BY day, subject
