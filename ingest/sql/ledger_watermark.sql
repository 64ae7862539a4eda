-- The highest stream sequence in the ledger (0 when it is empty).
SELECT max(LastSeq)
FROM ingest_ledger
WHERE Stream = {stream:String}
