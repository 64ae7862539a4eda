-- The last batch of one chain: where a restarted process continues it.
SELECT BatchSeq, Hash
FROM ingest_ledger
WHERE Stream = {stream:String} AND Chain = {chain:String}
ORDER BY BatchSeq DESC
LIMIT 1
