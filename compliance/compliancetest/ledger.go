package compliancetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/tapline/tapline/store"
)

// LedgerBatch is one ingest_ledger row before its hashes: WriteLedger
// chains the batches of each (stream, chain) in BatchSeq order, as ingest
// does.
type LedgerBatch struct {
	InsertedAt   time.Time
	Stream       string
	Chain        string
	BatchSeq     uint64
	Sequences    []uint64
	DeadLetters  uint32
	RowsByTable  map[string]uint64
	MinEventTime time.Time
	MaxEventTime time.Time
	// PrevHash, when set, replaces the chained previous hash (to break the
	// chain on purpose).
	PrevHash string
}

var ledgerColumns = []string{
	"InsertedAt", "Stream", "Consumer", "Chain", "BatchSeq", "FirstSeq", "LastSeq", "Messages", "DeadLetters",
	"RowsByTable", "MinEventTime", "MaxEventTime", "BatchSha256", "PrevHash", "Hash", "Sequences",
}

var zeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// WriteLedger writes ledger rows whose hashes follow the layout ingest
// documents for ingest_ledger.Hash: SHA-256 over the previous hash and the
// batch digest (32 raw bytes each), then stream, consumer and chain
// (length-prefixed), batch, first and last sequence, messages, dead
// letters, the non-zero RowsByTable sorted by table, min and max event
// time (ns) and the sequences, big-endian. ingest.VerifyLedger checks them.
func WriteLedger(ctx context.Context, eng store.Engine, batches []LedgerBatch) error {
	if len(batches) == 0 {
		return nil
	}
	b, err := eng.PrepareBatch(ctx, "ingest_ledger", ledgerColumns)
	if err != nil {
		return fmt.Errorf("ingest_ledger: %w", err)
	}
	prev := map[[2]string]string{}
	for _, lb := range batches {
		key := [2]string{lb.Stream, lb.Chain}
		ph, ok := prev[key]
		if !ok {
			ph = zeroHash
		}
		if lb.PrevHash != "" {
			ph = lb.PrevHash
		}
		digest := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", lb.Stream, lb.Chain, lb.BatchSeq))
		batchHash := hex.EncodeToString(digest[:])
		seqs := slices.Clone(lb.Sequences)
		slices.Sort(seqs)
		first, last := seqs[0], seqs[len(seqs)-1]
		consumer := "tapline-ingest"
		h := chainHash(ph, batchHash, lb.Stream, consumer, lb.Chain, lb.BatchSeq, first, last, uint32(len(seqs)),
			lb.DeadLetters, lb.RowsByTable, lb.MinEventTime, lb.MaxEventTime, seqs)
		prev[key] = h
		rows := lb.RowsByTable
		if rows == nil {
			rows = map[string]uint64{}
		}
		err := b.Append(lb.InsertedAt.UTC().Truncate(time.Millisecond), lb.Stream, consumer, lb.Chain, lb.BatchSeq, first, last,
			uint32(len(seqs)), lb.DeadLetters, rows, lb.MinEventTime.UTC(), lb.MaxEventTime.UTC(), batchHash, ph, h, seqs)
		if err != nil {
			b.Abort()
			return fmt.Errorf("ingest_ledger: %w", err)
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("ingest_ledger: %w", err)
	}
	return nil
}

func chainHash(prevHex, batchHex, stream, consumer, chain string, batch, first, last uint64, messages, dead uint32,
	rowsByTable map[string]uint64, minT, maxT time.Time, seqs []uint64) string {
	prev, _ := hex.DecodeString(prevHex)
	bh, _ := hex.DecodeString(batchHex)
	h := sha256.New()
	h.Write(prev)
	h.Write(bh)
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str(stream)
	str(consumer)
	str(chain)
	b = binary.BigEndian.AppendUint64(b, batch)
	b = binary.BigEndian.AppendUint64(b, first)
	b = binary.BigEndian.AppendUint64(b, last)
	b = binary.BigEndian.AppendUint32(b, messages)
	b = binary.BigEndian.AppendUint32(b, dead)
	var tables []string
	for t, n := range rowsByTable {
		if n > 0 {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tables)))
	for _, t := range tables {
		str(t)
		b = binary.BigEndian.AppendUint64(b, rowsByTable[t])
	}
	b = binary.BigEndian.AppendUint64(b, uint64(minT.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(maxT.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(seqs)))
	for _, s := range seqs {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
