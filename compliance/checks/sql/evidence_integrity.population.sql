-- Ingest ledger batches written in the period, reported on its first day.
SELECT toDate({from:DateTime64(9, 'UTC')}, 'UTC') AS day, count() AS population
FROM ingest_ledger
WHERE InsertedAt >= {from:DateTime64(9, 'UTC')} AND InsertedAt < {to:DateTime64(9, 'UTC')}
