-- Requests to privileged routes, not denied, by principals outside the
-- privileged set, per day, principal and route.
SELECT toDate(Timestamp, 'UTC') AS day,
       concat(if(Principal != '', Principal, '(no principal)'), ' -> ', ServiceName, ' ', if(Route != '', Route, Path)) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests not denied; statuses ', arrayStringConcat(arraySort(groupUniqArray(toString(Status))), ',')) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND (match(Route, {routes:String}) OR match(Path, {routes:String}))
  AND NOT (Decision = {deny:String} OR Status IN (401, 403))
  AND NOT (Principal != '' AND match(Principal, {principals:String}))
GROUP BY day, subject
ORDER BY day, subject
