-- The ledger columns ingest writes that the table has.
SELECT name
FROM system.columns
WHERE database = currentDatabase() AND table = 'ingest_ledger'
