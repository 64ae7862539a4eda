-- Runs of stream sequences in [lo, hi] that no ledger row holds, as (first
-- missing, last missing, missing sequences in all runs). Rows written outside
-- the period count: a message stored a little before or after it is not
-- missing.
SELECT toUInt64(prev + 1) AS first_missing, toUInt64(s - 1) AS last_missing,
       toUInt64(sum(s - prev - 1) OVER ()) AS missing_total
FROM
(
    SELECT s, lagInFrame(s) OVER (ORDER BY s ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS prev
    FROM
    (
        SELECT DISTINCT arrayJoin(Sequences) AS s
        FROM ingest_ledger
        WHERE Stream = {stream:String} AND LastSeq >= {lo:UInt64} AND FirstSeq <= {hi:UInt64}
    )
    WHERE s >= {lo:UInt64} AND s <= {hi:UInt64}
)
WHERE prev > 0 AND s > prev + 1
ORDER BY s
LIMIT {limit:UInt32}
