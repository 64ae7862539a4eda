-- Per day, listener and failure reason: the failure rate against the rate
-- of the baseline_days before that day. An exception when at least
-- min_failures failed, the rate is above min_rate and above factor times
-- the baseline rate.
WITH
    totals AS
    (
        SELECT Listener, toDate(Timestamp, 'UTC') AS day, count() AS n
        FROM tls_connections
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} - toIntervalDay({baseline_days:UInt32})
          AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
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
        SELECT Listener, Failure, toDate(Timestamp, 'UTC') AS day, count() AS f
        FROM tls_connections
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} - toIntervalDay({baseline_days:UInt32})
          AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
          AND NOT Established
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
