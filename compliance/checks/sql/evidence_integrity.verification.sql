-- The ledger rows ingest.VerifyLedger reads for the period, in chain order.
-- For each row it recomputes Hash = SHA-256(PrevHash || BatchSha256 ||
-- the row's other fields in a fixed binary layout), checks that PrevHash is
-- the Hash of the chain's batch before (looked up before the period for a
-- chain's first row in it), that no batch number is missing or stored
-- twice, and that Sequences run from FirstSeq to LastSeq.
SELECT Stream, Consumer, Chain, BatchSeq, InsertedAt, FirstSeq, LastSeq, Messages, DeadLetters,
       RowsByTable, MinEventTime, MaxEventTime, BatchSha256, PrevHash, Hash, Sequences
FROM ingest_ledger
WHERE InsertedAt >= {from:DateTime64(3)} AND InsertedAt < {to:DateTime64(3)}
ORDER BY Stream, Chain, BatchSeq, InsertedAt
