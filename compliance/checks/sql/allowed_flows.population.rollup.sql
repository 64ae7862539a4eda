-- Requests with an identified caller (SPIFFE ID, else principal) at the
-- given sources, per day. Whole days [rollup_from, rollup_to) are read from
-- compliance_access_daily, the rest of the period from access_events.
SELECT day, sum(n) AS population
FROM
(
    SELECT Day AS day, sum(Rows) AS n
    FROM compliance_access_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(ServiceName, {scope_services:String})
      AND Source IN {sources:Array(String)} AND Identified
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND Source IN {sources:Array(String)}
      AND if(PeerSpiffeId != '', PeerSpiffeId, Principal) != ''
    GROUP BY day
)
GROUP BY day
ORDER BY day
