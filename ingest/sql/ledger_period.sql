-- Every ledger row written in [from, to), in chain order.
SELECT Stream, Consumer, Chain, BatchSeq, InsertedAt, FirstSeq, LastSeq, Messages, DeadLetters,
       RowsByTable, MinEventTime, MaxEventTime, BatchSha256, PrevHash, Hash, Sequences
FROM ingest_ledger
WHERE InsertedAt >= {from:DateTime64(3)} AND InsertedAt < {to:DateTime64(3)}
ORDER BY Stream, Chain, BatchSeq, InsertedAt
