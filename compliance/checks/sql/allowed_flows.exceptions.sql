-- Caller → service flows that match no declared flow (from and to are
-- LIKE patterns bound as two arrays), per day.
SELECT toDate(Timestamp, 'UTC') AS day, concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), ' -> ', ServiceName) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' requests in an undeclared flow; statuses ', arrayStringConcat(arraySort(groupUniqArray(toString(Status))), ',')) AS detail
FROM access_events
WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')}
  AND Source IN {sources:Array(String)}
  AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
  AND NOT arrayExists((f, t) -> if(PeerSpiffeId != '', PeerSpiffeId, Principal) LIKE f AND ServiceName LIKE t,
                      {flow_from:Array(String)}, {flow_to:Array(String)})
GROUP BY day, subject
ORDER BY day, subject
