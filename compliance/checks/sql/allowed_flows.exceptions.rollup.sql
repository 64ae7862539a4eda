-- Caller → service flows that match no declared flow (all declared flows
-- are one pattern, matched against caller TAB service), per day. Whole days
-- [rollup_from, rollup_to) are read from compliance_access_daily (where the
-- caller of an identified request is its SPIFFE ID, else its principal),
-- the rest of the period from access_events.
SELECT day, subject, 'fail' AS severity, sum(n) AS items,
       concat(toString(sum(n)), ' requests in an undeclared flow; statuses ', arrayStringConcat(arraySort(groupUniqArray(toString(status))), ',')) AS detail
FROM
(
    SELECT Day AS day, concat(Caller, ' -> ', ServiceName) AS subject, Status AS status, sum(Rows) AS n
    FROM compliance_access_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
      AND Source IN {sources:Array(String)} AND Identified
      AND NOT match(concat(Caller, '\t', ServiceName), {flows:String})
    GROUP BY day, subject, status
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), ' -> ', ServiceName) AS subject,
           Status AS status, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Source IN {sources:Array(String)}
      AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
      AND NOT match(concat(if(PeerSpiffeId != '', PeerSpiffeId, Principal), '\t', ServiceName), {flows:String})
    GROUP BY day, subject, status
)
GROUP BY day, subject
ORDER BY day, subject
