-- Requests whose token issuer is not allowed, or (when audiences are
-- configured) none of whose audiences is allowed, per day, issuer and
-- audience. Requests are counted per issuer and audience first, so the
-- allow-lists are applied once per distinct pair. Whole days [rollup_from,
-- rollup_to) are read from compliance_access_daily, the rest of the period
-- from access_events.
SELECT day, concat('issuer ', JwtIssuer, ' audience ', JwtAudience) AS subject, 'fail' AS severity, n AS items,
       concat(toString(n), ' requests; issuer ', if(issuer_ok, 'allowed', 'not allowed'),
              ', audience ', if(audience_ok, 'allowed', 'not allowed')) AS detail
FROM
(
    SELECT day, JwtIssuer, JwtAudience, sum(c) AS n
    FROM
    (
        SELECT Day AS day, toString(JwtIssuer) AS JwtIssuer, JwtAudience, sum(Rows) AS c
        FROM compliance_access_daily
        WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
          AND JwtIssuer != ''
        GROUP BY day, JwtIssuer, JwtAudience
        UNION ALL
        SELECT toDate(Timestamp, 'UTC') AS day, toString(JwtIssuer) AS JwtIssuer, JwtAudience, count() AS c
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
          AND JwtIssuer != ''
        GROUP BY day, JwtIssuer, JwtAudience
    )
    GROUP BY day, JwtIssuer, JwtAudience
)
WHERE NOT (has({issuers:Array(String)}, JwtIssuer) AS issuer_ok)
   OR NOT ((length({audiences:Array(String)}) = 0
            OR hasAny({audiences:Array(String)}, arrayMap(x -> trimBoth(x), splitByChar(',', JwtAudience)))) AS audience_ok)
ORDER BY day, subject
