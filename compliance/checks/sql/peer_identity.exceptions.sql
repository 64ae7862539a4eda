-- Caller → service pairs whose share of requests with a verified peer
-- identity (mTLS verified, SPIFFE ID in an allowed trust domain) is below
-- min_share on a day. The caller is the SPIFFE ID, else the principal, else
-- the client address.
SELECT day, concat(caller, ' -> ', ServiceName) AS subject, 'fail' AS severity, toUInt64(total - verified) AS items,
       concat(toString(verified), ' of ', toString(total), ' requests verified (',
              toString(round(100 * verified / total, 2)), '%, minimum ',
              toString(round(100 * {min_share:Float64}, 2)), '%)') AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day,
           multiIf(PeerSpiffeId != '', PeerSpiffeId, Principal != '', Principal, ClientAddress) AS caller,
           ServiceName,
           count() AS total,
           countIf(MtlsVerified AND has({trust_domains:Array(String)}, extract(PeerSpiffeId, '^spiffe://([^/]+)'))) AS verified
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {sources:Array(String)}
    GROUP BY day, caller, ServiceName
)
WHERE verified < total * {min_share:Float64}
ORDER BY day, subject
