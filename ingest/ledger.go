package ingest

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/tapline/tapline/store"
)

// ledgerTable is the table of ledger rows.
const ledgerTable = "ingest_ledger"

var (
	//go:embed sql/ledger_lookup.sql
	ledgerLookupSQL string
	//go:embed sql/ledger_head.sql
	ledgerHeadSQL string
	//go:embed sql/ledger_batch_hash.sql
	ledgerBatchHashSQL string
	//go:embed sql/ledger_watermark.sql
	ledgerWatermarkSQL string
	//go:embed sql/ledger_columns.sql
	ledgerColumnsSQL string
)

// ledgerColumns are the columns of ingest_ledger that ingest writes, in the
// order of ledgerRow.values.
var ledgerColumns = []string{
	"InsertedAt", "Stream", "Consumer", "Chain", "BatchSeq", "FirstSeq", "LastSeq",
	"Messages", "DeadLetters", "RowsByTable", "MinEventTime", "MaxEventTime",
	"BatchSha256", "PrevHash", "Hash", "Sequences",
}

// ledgerRow is one row of ingest_ledger: one batch.
type ledgerRow struct {
	InsertedAt   time.Time
	Stream       string
	Consumer     string
	Chain        string
	BatchSeq     uint64
	FirstSeq     uint64
	LastSeq      uint64
	Messages     uint32
	DeadLetters  uint32
	RowsByTable  map[string]uint64 // tables with at least one row
	MinEventTime time.Time
	MaxEventTime time.Time
	BatchSha256  string
	PrevHash     string
	Hash         string
	Sequences    []uint64 // every stream sequence of the batch, ascending
}

func (r *ledgerRow) values() []any {
	return []any{
		r.InsertedAt, r.Stream, r.Consumer, r.Chain, r.BatchSeq, r.FirstSeq, r.LastSeq,
		r.Messages, r.DeadLetters, r.RowsByTable, r.MinEventTime, r.MaxEventTime,
		r.BatchSha256, r.PrevHash, r.Hash, r.Sequences,
	}
}

// zeroHash is the PrevHash of a chain's first batch.
var zeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// batchDigest hashes a batch's raw messages: for each message in ascending
// stream sequence, the sequence (8 bytes, big-endian), the subject's length
// (4 bytes) and the subject, the payload's length (8 bytes) and the payload.
// Anyone holding the messages (a stream backup, a DLQ copy) can recompute it.
type batchDigest struct{ h hash.Hash }

func newBatchDigest() batchDigest { return batchDigest{h: sha256.New()} }

func (d batchDigest) add(seq uint64, subject string, data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], seq)
	d.h.Write(n[:])
	binary.BigEndian.PutUint32(n[:4], uint32(len(subject)))
	d.h.Write(n[:4])
	d.h.Write([]byte(subject))
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	d.h.Write(n[:])
	d.h.Write(data)
}

func (d batchDigest) hex() string { return hex.EncodeToString(d.h.Sum(nil)) }

// chainHash computes a row's Hash: SHA-256 over the previous batch's hash and
// this batch's digest (both as 32 raw bytes), followed by the row's other
// fields in a fixed binary layout, so that no field of a ledger row can be
// changed without breaking the chain from that row on. InsertedAt is left
// out: it is when the row was written, not what it says.
func chainHash(r *ledgerRow) (string, error) {
	prev, err := hex.DecodeString(r.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("ledger: prev hash %q is not a SHA-256 in hex", r.PrevHash)
	}
	batch, err := hex.DecodeString(r.BatchSha256)
	if err != nil || len(batch) != sha256.Size {
		return "", fmt.Errorf("ledger: batch hash %q is not a SHA-256 in hex", r.BatchSha256)
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(batch)
	var b []byte
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str(r.Stream)
	str(r.Consumer)
	str(r.Chain)
	b = binary.BigEndian.AppendUint64(b, r.BatchSeq)
	b = binary.BigEndian.AppendUint64(b, r.FirstSeq)
	b = binary.BigEndian.AppendUint64(b, r.LastSeq)
	b = binary.BigEndian.AppendUint32(b, r.Messages)
	b = binary.BigEndian.AppendUint32(b, r.DeadLetters)
	tables := make([]string, 0, len(r.RowsByTable))
	for t, n := range r.RowsByTable {
		if n > 0 {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	b = binary.BigEndian.AppendUint32(b, uint32(len(tables)))
	for _, t := range tables {
		str(t)
		b = binary.BigEndian.AppendUint64(b, r.RowsByTable[t])
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.MinEventTime.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.MaxEventTime.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Sequences)))
	for _, s := range r.Sequences {
		b = binary.BigEndian.AppendUint64(b, s)
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// batchRef names one ledgered batch.
type batchRef struct {
	Chain    string
	BatchSeq uint64
}

// ledgered is a ledger row found for redelivered messages: the batch and
// every sequence in it.
type ledgered struct {
	ref       batchRef
	sequences []uint64
}

// lookupLedger returns, for those of seqs (ascending) that the ledger holds,
// the batch that holds them.
func lookupLedger(ctx context.Context, eng store.Engine, stream string, seqs []uint64) (map[uint64]*ledgered, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	rows, err := eng.Query(ctx, ledgerLookupSQL, store.Params{
		"stream": stream, "lo": seqs[0], "hi": seqs[len(seqs)-1], "seqs": seqs,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger lookup: %w", err)
	}
	defer rows.Close()
	want := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		want[s] = true
	}
	found := make(map[uint64]*ledgered)
	for rows.Next() {
		var l ledgered
		if err := rows.Scan(&l.ref.Chain, &l.ref.BatchSeq, &l.sequences); err != nil {
			return nil, fmt.Errorf("ledger lookup: %w", err)
		}
		for _, s := range l.sequences {
			// A sequence in two batches (see VerifyLedger's duplicates) is
			// redone with the first batch found.
			if want[s] && found[s] == nil {
				found[s] = &l
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger lookup: %w", err)
	}
	return found, nil
}

// chainHead returns the last batch number and hash of a chain, or 0 and
// zeroHash for a new chain.
func chainHead(ctx context.Context, eng store.Engine, stream, chain string) (uint64, string, error) {
	rows, err := eng.Query(ctx, ledgerHeadSQL, store.Params{"stream": stream, "chain": chain})
	if err != nil {
		return 0, "", fmt.Errorf("ledger chain head: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, zeroHash, rows.Err()
	}
	var (
		seq  uint64
		hash string
	)
	if err := rows.Scan(&seq, &hash); err != nil {
		return 0, "", fmt.Errorf("ledger chain head: %w", err)
	}
	return seq, hash, nil
}

// batchHash returns the Hash of a written batch, or "" when its row is not
// in the ledger.
func batchHash(ctx context.Context, eng store.Engine, stream string, ref batchRef) (string, error) {
	rows, err := eng.Query(ctx, ledgerBatchHashSQL, store.Params{"stream": stream, "chain": ref.Chain, "batch": ref.BatchSeq})
	if err != nil {
		return "", fmt.Errorf("ledger batch: %w", err)
	}
	defer rows.Close()
	var h string
	if rows.Next() {
		if err := rows.Scan(&h); err != nil {
			return "", fmt.Errorf("ledger batch: %w", err)
		}
	}
	return h, rows.Err()
}

// watermark returns the highest stream sequence in the ledger.
func watermark(ctx context.Context, eng store.Engine, stream string) (uint64, error) {
	rows, err := eng.Query(ctx, ledgerWatermarkSQL, store.Params{"stream": stream})
	if err != nil {
		return 0, fmt.Errorf("ledger watermark: %w", err)
	}
	defer rows.Close()
	var w uint64
	if rows.Next() {
		if err := rows.Scan(&w); err != nil {
			return 0, fmt.Errorf("ledger watermark: %w", err)
		}
	}
	return w, rows.Err()
}

// checkLedgerColumns checks that ingest_ledger has every column ingest writes.
func checkLedgerColumns(ctx context.Context, eng store.Engine) error {
	rows, err := eng.Query(ctx, ledgerColumnsSQL, nil)
	if err != nil {
		return fmt.Errorf("ledger columns: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("ledger columns: %w", err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger columns: %w", err)
	}
	var missing []string
	for _, c := range ledgerColumns {
		if !have[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %v", ErrLedgerSchema, missing)
	}
	return nil
}
