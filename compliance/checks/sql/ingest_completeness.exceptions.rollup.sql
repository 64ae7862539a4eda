-- Three kinds of incompleteness, per day:
--  * per source (access events per Source, TLS connections, spans, logs), a
--    silence between consecutive events longer than max_gap_ms (events are
--    first folded into minutes with their first and last time, so the gap
--    is exact and the window runs over minutes, not rows);
--  * dead-lettered messages in the ingest ledger above max_dead_letters;
--  * stream sequences no ledger row of the period holds, between the ones
--    it does (a gap is dated by the batch after it).
-- Whole days [rollup_from, rollup_to) are read from compliance_minutes, the
-- rest of the period from the source tables.
WITH
    minutes AS
    (
        SELECT src, m, min(f) AS first, max(l) AS last
        FROM
        (
            SELECT toString(Src) AS src, Minute AS m, min(First) AS f, max(Last) AS l
            FROM compliance_minutes
            WHERE Minute >= toDateTime({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Minute < toDateTime({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND if(Src = 'tls_connections', match(Listener, {scope_listeners:String}), match(ServiceName, {scope_services:String}))
            GROUP BY src, m
            UNION ALL
            SELECT concat('access_events/', Source) AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM access_events
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'tls_connections' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM tls_connections
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'otel_traces' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM otel_traces
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'otel_logs' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM otel_logs
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
        )
        GROUP BY src, m
    ),
    gaps AS
    (
        SELECT src, first AS resumed,
               lagInFrame(last) OVER (PARTITION BY src ORDER BY m ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS stopped,
               row_number() OVER (PARTITION BY src ORDER BY m) AS rn
        FROM minutes
    ),
    seqs AS
    (
        SELECT Stream, s, at,
               lagInFrame(s) OVER (PARTITION BY Stream ORDER BY s ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev,
               row_number() OVER (PARTITION BY Stream ORDER BY s) AS rn
        FROM
        (
            SELECT Stream, arrayJoin(Sequences) AS s, InsertedAt AS at
            FROM ingest_ledger
            WHERE InsertedAt >= {from:DateTime64(9, 'UTC')} AND InsertedAt < {to:DateTime64(9, 'UTC')}
        )
    )
SELECT toDate(resumed, 'UTC') AS day, concat('source ', src, ' silent') AS subject, 'fail' AS severity, count() AS items,
       concat(toString(count()), ' gaps over ', toString(intDiv({max_gap_ms:UInt64}, 60000)), ' min; longest from ',
              toString(argMax(stopped, dateDiff('millisecond', stopped, resumed))), ' to ',
              toString(argMax(resumed, dateDiff('millisecond', stopped, resumed))), ' UTC (',
              toString(round(max(dateDiff('millisecond', stopped, resumed)) / 60000, 1)), ' min)') AS detail
FROM gaps
WHERE rn > 1 AND dateDiff('millisecond', stopped, resumed) > {max_gap_ms:UInt64}
GROUP BY day, subject
UNION ALL
SELECT toDate(InsertedAt, 'UTC') AS day, concat('stream ', Stream, ' dead letters') AS subject, 'fail' AS severity,
       toUInt64(sum(DeadLetters)) AS items,
       concat(toString(sum(DeadLetters)), ' messages dead-lettered (allowed ', toString({max_dead_letters:UInt64}), ')') AS detail
FROM ingest_ledger
WHERE InsertedAt >= {from:DateTime64(9, 'UTC')} AND InsertedAt < {to:DateTime64(9, 'UTC')}
GROUP BY day, Stream
HAVING sum(DeadLetters) > {max_dead_letters:UInt64}
UNION ALL
SELECT toDate(at, 'UTC') AS day, concat('stream ', Stream, ' sequences missing') AS subject, 'fail' AS severity,
       toUInt64(sum(s - prev - 1)) AS items,
       concat(toString(sum(s - prev - 1)), ' stream sequences in no ledger row; first run ',
              toString(min(prev) + 1), '-', toString(argMin(s, prev) - 1)) AS detail
FROM seqs
WHERE rn > 1 AND s > prev + 1
GROUP BY day, Stream
ORDER BY day, subject
