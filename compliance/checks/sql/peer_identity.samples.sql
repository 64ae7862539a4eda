-- Requests without a verified peer identity, up to {samples} per day and
-- pair, picked reproducibly by a hash of the request and the seed.
SELECT toDate(Timestamp, 'UTC') AS day,
       concat(multiIf(PeerSpiffeId != '', PeerSpiffeId, Principal != '', Principal, ClientAddress), ' -> ', ServiceName) AS subject,
       Timestamp AS ts, TraceId, RequestId,
       concat(Source, ' ', Method, ' ', Path, ' status ', toString(Status), ', peer ',
              if(PeerSpiffeId = '', '(no SPIFFE ID)', PeerSpiffeId), ', mTLS verified: ', toString(MtlsVerified)) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {sources:Array(String)}
  AND NOT (MtlsVerified AND has({trust_domains:Array(String)}, extract(PeerSpiffeId, '^spiffe://([^/]+)')))
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(RequestId, TraceId, Timestamp, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
