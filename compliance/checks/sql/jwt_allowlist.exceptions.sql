-- Requests whose token issuer is not allowed, or (when audiences are
-- configured) none of whose audiences is allowed, per day, issuer and
-- audience.
SELECT toDate(Timestamp, 'UTC') AS day, concat('issuer ', JwtIssuer, ' audience ', JwtAudience) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests; issuer ', if(has({issuers:Array(String)}, JwtIssuer), 'allowed', 'not allowed'),
              ', audience ', if(length({audiences:Array(String)}) = 0 OR hasAny({audiences:Array(String)}, arrayMap(x -> trimBoth(x), splitByChar(',', JwtAudience))), 'allowed', 'not allowed')) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
  AND JwtIssuer != ''
  AND (NOT has({issuers:Array(String)}, JwtIssuer)
       OR (length({audiences:Array(String)}) > 0 AND NOT hasAny({audiences:Array(String)}, arrayMap(x -> trimBoth(x), splitByChar(',', JwtAudience)))))
GROUP BY day, subject, JwtIssuer, JwtAudience
ORDER BY day, subject
