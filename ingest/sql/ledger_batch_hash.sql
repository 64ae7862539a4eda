-- The hash of one batch of one chain, if its row was written.
SELECT Hash
FROM ingest_ledger
WHERE Stream = {stream:String} AND Chain = {chain:String} AND BatchSeq = {batch:UInt64}
LIMIT 1
