-- Caller → service pairs whose share of requests with a verified peer
-- identity (mTLS verified, SPIFFE ID in an allowed trust domain) is below
-- min_share on a day. The caller is the SPIFFE ID, else the principal, else
-- the client address. Whole days [rollup_from, rollup_to) are read from
-- compliance_access_daily, the rest of the period from access_events.
SELECT day, concat(caller, ' -> ', ServiceName) AS subject, 'fail' AS severity, toUInt64(total - verified) AS items,
       concat(toString(verified), ' of ', toString(total), ' requests verified (',
              toString(round(100 * verified / total, 2)), '%, minimum ',
              toString(round(100 * {min_share:Float64}, 2)), '%)') AS detail
FROM
(
    SELECT day, caller, ServiceName, sum(t) AS total, sum(v) AS verified
    FROM
    (
        SELECT Day AS day, Caller AS caller, ServiceName, sum(Rows) AS t,
               sumIf(Rows, MtlsVerified AND has({trust_domains:Array(String)}, PeerTrustDomain)) AS v
        FROM compliance_access_daily
        WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
          AND Source IN {sources:Array(String)}
        GROUP BY day, caller, ServiceName
        UNION ALL
        SELECT toDate(Timestamp, 'UTC') AS day,
               multiIf(PeerSpiffeId != '', PeerSpiffeId, Principal != '', Principal, ClientAddress) AS caller,
               ServiceName, count() AS t,
               countIf(MtlsVerified AND has({trust_domains:Array(String)}, extract(PeerSpiffeId, '^spiffe://([^/]+)'))) AS v
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
          AND Source IN {sources:Array(String)}
        GROUP BY day, caller, ServiceName
    )
    GROUP BY day, caller, ServiceName
)
WHERE verified < total * {min_share:Float64}
ORDER BY day, subject
