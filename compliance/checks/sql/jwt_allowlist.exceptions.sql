-- Requests whose token issuer is not allowed, or (when audiences are
-- configured) none of whose audiences is allowed, per day, issuer and
-- audience. Requests are counted per issuer and audience first, so the
-- allow-lists are applied once per distinct pair.
SELECT day, concat('issuer ', JwtIssuer, ' audience ', JwtAudience) AS subject, 'fail' AS severity, n AS items,
       concat(toString(n), ' requests; issuer ', if(issuer_ok, 'allowed', 'not allowed'),
              ', audience ', if(audience_ok, 'allowed', 'not allowed')) AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, JwtIssuer, JwtAudience, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND JwtIssuer != ''
    GROUP BY day, JwtIssuer, JwtAudience
)
WHERE NOT (has({issuers:Array(String)}, JwtIssuer) AS issuer_ok)
   OR NOT ((length({audiences:Array(String)}) = 0
            OR hasAny({audiences:Array(String)}, arrayMap(x -> trimBoth(x), splitByChar(',', JwtAudience)))) AS audience_ok)
ORDER BY day, subject
