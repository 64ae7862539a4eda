-- Caller → service flows that match no declared flow (all declared flows
-- are one pattern, matched against caller TAB service), per day.
SELECT toDate(Timestamp, 'UTC') AS day, concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), ' -> ', ServiceName) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests in an undeclared flow; statuses ', arrayStringConcat(arraySort(groupUniqArray(toString(Status))), ',')) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
  AND Source IN {sources:Array(String)}
  AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
  AND NOT match(concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), '\t', ServiceName), {flows:String})
GROUP BY day, subject
ORDER BY day, subject
