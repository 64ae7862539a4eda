-- The ledger records each batch's exact stream sequences: with several ingest
-- processes on one durable consumer, messages are handed out round-robin, so a
-- batch's FirstSeq..LastSeq range does not say which messages it holds. Ingest
-- uses Sequences to recognise a redelivered batch; the completeness checks use
-- it to find sequence gaps.

-- name: add ingest_ledger.Sequences
ALTER TABLE {{table "ingest_ledger"}}{{onCluster}}
    ADD COLUMN IF NOT EXISTS Sequences Array(UInt64) CODEC(Delta, ZSTD(1));

-- name: add ingest_ledger.Sequences to the distributed table
{{if .Cluster}}ALTER TABLE {{name "ingest_ledger"}}{{onCluster}}
    ADD COLUMN IF NOT EXISTS Sequences Array(UInt64) CODEC(Delta, ZSTD(1)){{end}};
