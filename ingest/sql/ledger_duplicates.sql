-- Stream sequences in [lo, hi] that more than one ledger row holds, with
-- the total count of such sequences in every row.
SELECT s, toUInt64(count() OVER ()) AS total
FROM
(
    SELECT arrayJoin(Sequences) AS s
    FROM ingest_ledger
    WHERE Stream = {stream:String} AND LastSeq >= {lo:UInt64} AND FirstSeq <= {hi:UInt64}
)
WHERE s >= {lo:UInt64} AND s <= {hi:UInt64}
GROUP BY s
HAVING count() > 1
ORDER BY s
LIMIT {limit:UInt32}
