-- ingest_ledger: one row per batch ingest inserted. The completeness and
-- integrity record behind compliance reports: which stream sequences were
-- stored, how many rows went to each table, and a SHA-256 hash chain over the
-- raw messages (Hash = sha256(PrevHash || sha256 of the batch's messages)).
-- Chain names one ingest worker's chain; BatchSeq counts its batches from 1.
-- No TTL: the ledger is kept as long as the reports that cite it.

-- name: create ingest_ledger
CREATE TABLE IF NOT EXISTS {{table "ingest_ledger"}}{{onCluster}}
(
    InsertedAt      DateTime64(3) CODEC(Delta, ZSTD(1)),
    Stream          LowCardinality(String),
    Consumer        LowCardinality(String),
    Chain           LowCardinality(String),
    BatchSeq        UInt64,
    FirstSeq        UInt64,
    LastSeq         UInt64,
    Messages        UInt32,
    DeadLetters     UInt32,
    RowsByTable     Map(LowCardinality(String), UInt64),
    MinEventTime    DateTime64(9),
    MaxEventTime    DateTime64(9),
    BatchSha256     String,
    PrevHash        String,
    Hash            String
)
ENGINE = {{engine "MergeTree" "ingest_ledger"}}
ORDER BY (Stream, Chain, BatchSeq)
{{ttl "ingest_ledger"}}
SETTINGS index_granularity = 8192{{dedupWindow}};

-- One chain is read in order: keep it on one shard.
-- name: distribute ingest_ledger
{{distributed "ingest_ledger" "cityHash64(Chain)"}}
