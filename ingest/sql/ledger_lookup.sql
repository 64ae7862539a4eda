-- The ledger rows that hold any of the given stream sequences. FirstSeq and
-- LastSeq narrow the rows before the arrays are read.
SELECT Chain, BatchSeq, Sequences
FROM ingest_ledger
WHERE Stream = {stream:String}
  AND FirstSeq <= {hi:UInt64}
  AND LastSeq >= {lo:UInt64}
  AND hasAny(Sequences, {seqs:Array(UInt64)})
