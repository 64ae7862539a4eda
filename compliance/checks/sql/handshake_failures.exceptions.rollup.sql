-- Per day, listener and failure reason: the failure rate against the rate
-- of the baseline_days before that day. An exception when at least
-- min_failures failed, the rate is above min_rate and above factor times
-- the baseline rate. Whole days [rollup_from, rollup_to) are read from
-- compliance_tls_daily, the rest of the period and the baseline from
-- tls_connections.
WITH
    totals AS
    (
        SELECT Listener, day, sum(c) AS n
        FROM
        (
            SELECT Listener, Day AS day, sum(Rows) AS c
            FROM compliance_tls_daily
            WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(Listener, {scope_listeners:String})
            GROUP BY Listener, day
            UNION ALL
            SELECT Listener, toDate(Timestamp, 'UTC') AS day, count() AS c
            FROM tls_connections
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} - toIntervalDay({baseline_days:UInt32})
              AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY Listener, day
        )
        GROUP BY Listener, day
    ),
    totals_w AS
    (
        SELECT Listener, day, n,
               sum(n) OVER (PARTITION BY Listener ORDER BY toRelativeDayNum(day)
                            RANGE BETWEEN {baseline_days:UInt32} PRECEDING AND 1 PRECEDING) AS base_n
        FROM totals
    ),
    fails AS
    (
        SELECT Listener, Failure, day, sum(c) AS f
        FROM
        (
            SELECT Listener, Failure, Day AS day, sum(Rows) AS c
            FROM compliance_tls_daily
            WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND match(Listener, {scope_listeners:String})
              AND NOT Established
            GROUP BY Listener, Failure, day
            UNION ALL
            SELECT Listener, Failure, toDate(Timestamp, 'UTC') AS day, count() AS c
            FROM tls_connections
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} - toIntervalDay({baseline_days:UInt32})
              AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
              AND NOT Established
            GROUP BY Listener, Failure, day
        )
        GROUP BY Listener, Failure, day
    ),
    fails_w AS
    (
        SELECT Listener, Failure, day, f,
               sum(f) OVER (PARTITION BY Listener, Failure ORDER BY toRelativeDayNum(day)
                            RANGE BETWEEN {baseline_days:UInt32} PRECEDING AND 1 PRECEDING) AS base_f
        FROM fails
    )
SELECT day, concat('listener ', Listener, ' ', Failure) AS subject, 'fail' AS severity, f AS items,
       concat(toString(f), ' of ', toString(n), ' handshakes failed (', toString(round(100 * rate, 2)), '%); baseline ',
              toString(round(100 * base_rate, 2)), '% over ', toString({baseline_days:UInt32}), ' days') AS detail
FROM
(
    SELECT fw.day AS day, fw.Listener AS Listener, fw.Failure AS Failure, fw.f AS f, tw.n AS n,
           fw.f / tw.n AS rate, if(tw.base_n > 0, fw.base_f / tw.base_n, 0) AS base_rate
    FROM fails_w AS fw
    INNER JOIN totals_w AS tw ON fw.Listener = tw.Listener AND fw.day = tw.day
    WHERE fw.day >= toDate({from:DateTime64(9, 'UTC')}, 'UTC')
)
WHERE f >= {min_failures:UInt64} AND rate > {min_rate:Float64} AND rate > base_rate * {factor:Float64}
ORDER BY day, subject
