package ingest

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/tapline/tapline/store"
)

var (
	//go:embed sql/ledger_period.sql
	ledgerPeriodSQL string
	//go:embed sql/ledger_gaps.sql
	ledgerGapsSQL string
	//go:embed sql/ledger_duplicates.sql
	ledgerDuplicatesSQL string
)

// reportLimit caps the gaps and duplicate sequences a Report lists; the
// counts are always complete.
const reportLimit = 1000

// Report is what VerifyLedger found for the ledger rows written in a period.
type Report struct {
	From, To time.Time
	Streams  []StreamReport
}

// OK reports whether every chain verified and no stream has a gap or a
// sequence stored twice.
func (r Report) OK() bool {
	for _, s := range r.Streams {
		if len(s.Gaps) > 0 || s.DuplicateCount > 0 {
			return false
		}
		for _, c := range s.Chains {
			if len(c.Breaks) > 0 {
				return false
			}
		}
	}
	return true
}

// StreamReport covers one stream's ledger rows in the period.
type StreamReport struct {
	Stream string
	// FirstSeq and LastSeq bound the stream sequences of the period's batches.
	FirstSeq, LastSeq uint64
	// Batches and Messages count the period's ledger rows and the messages
	// they hold; DeadLetters those dead-lettered; RowsByTable the rows
	// inserted per table.
	Batches     uint64
	Messages    uint64
	DeadLetters uint64
	RowsByTable map[string]uint64
	// MinEventTime and MaxEventTime bound the rows' event times.
	MinEventTime, MaxEventTime time.Time
	// Gaps are runs of sequences between FirstSeq and LastSeq that no
	// ledger row holds: messages never stored (expired from the stream
	// before ingest read them, or lost). GapMessages counts them all.
	Gaps        []SeqRange
	GapMessages uint64
	// Duplicates are sequences more than one ledger row holds (the first
	// reportLimit); DuplicateCount counts them all.
	Duplicates     []uint64
	DuplicateCount uint64
	Chains         []ChainReport
}

// SeqRange is a run of stream sequences, both ends included.
type SeqRange struct {
	First, Last uint64
}

// ChainReport covers one ingest process's chain in the period.
type ChainReport struct {
	Chain string
	// FirstBatch and LastBatch are the chain's first and last batch numbers
	// in the period; Batches counts its rows.
	FirstBatch, LastBatch uint64
	Batches               uint64
	// FirstInsertedAt and LastInsertedAt bound when the rows were written.
	FirstInsertedAt, LastInsertedAt time.Time
	// HeadHash is the Hash of LastBatch: it fixes the whole chain up to it,
	// and is what a signed report cites.
	HeadHash string
	// Breaks are the places where the chain does not verify.
	Breaks []ChainBreak
}

// ChainBreak is one place where a chain does not verify.
type ChainBreak struct {
	BatchSeq uint64
	Reason   string
}

// VerifyLedger checks the ledger rows written in [from, to): each chain's
// hashes (every row's Hash recomputed from its contents, each PrevHash equal
// to the previous batch's Hash, including the batch just before the period,
// no batch numbers missing or written twice), and per stream the stream
// sequences no row holds (gaps) or more than one row holds (duplicates).
// An error means the ledger could not be read; what does not verify is in
// the Report.
func VerifyLedger(ctx context.Context, eng store.Engine, from, to time.Time) (Report, error) {
	rep := Report{From: from.UTC(), To: to.UTC()}
	rows, err := eng.Query(ctx, ledgerPeriodSQL, store.Params{"from": from, "to": to})
	if err != nil {
		return rep, fmt.Errorf("verify ledger: %w", err)
	}
	var (
		sr    *StreamReport
		cr    *ChainReport
		prev  ledgerRow
		heads = map[[2]string]ledgerRow{} // each chain's first row in the period
	)
	for rows.Next() {
		var r ledgerRow
		if err := rows.Scan(&r.Stream, &r.Consumer, &r.Chain, &r.BatchSeq, &r.InsertedAt, &r.FirstSeq, &r.LastSeq,
			&r.Messages, &r.DeadLetters, &r.RowsByTable, &r.MinEventTime, &r.MaxEventTime,
			&r.BatchSha256, &r.PrevHash, &r.Hash, &r.Sequences); err != nil {
			rows.Close()
			return rep, fmt.Errorf("verify ledger: %w", err)
		}
		if sr == nil || sr.Stream != r.Stream {
			rep.Streams = append(rep.Streams, StreamReport{Stream: r.Stream, FirstSeq: r.FirstSeq, RowsByTable: map[string]uint64{}})
			sr = &rep.Streams[len(rep.Streams)-1]
			cr = nil
		}
		newChain := cr == nil || cr.Chain != r.Chain
		if newChain {
			sr.Chains = append(sr.Chains, ChainReport{Chain: r.Chain, FirstBatch: r.BatchSeq, FirstInsertedAt: r.InsertedAt})
			cr = &sr.Chains[len(sr.Chains)-1]
			heads[[2]string{r.Stream, r.Chain}] = r
		}
		checkRow(cr, &r)
		if !newChain {
			switch {
			case r.BatchSeq == prev.BatchSeq && r.Hash == prev.Hash:
				cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "batch stored twice"})
			case r.BatchSeq == prev.BatchSeq:
				cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "two different batches with this number: the chain forked (two processes with one chain name?)"})
			case r.BatchSeq != prev.BatchSeq+1:
				cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, fmt.Sprintf("batches %d to %d are missing", prev.BatchSeq+1, r.BatchSeq-1)})
			case r.PrevHash != prev.Hash:
				cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "PrevHash is not the Hash of the batch before"})
			}
		}
		prev = r
		cr.LastBatch, cr.HeadHash, cr.LastInsertedAt = r.BatchSeq, r.Hash, r.InsertedAt
		cr.Batches++
		sr.Batches++
		sr.Messages += uint64(r.Messages)
		sr.DeadLetters += uint64(r.DeadLetters)
		for t, n := range r.RowsByTable {
			sr.RowsByTable[t] += n
		}
		sr.FirstSeq = min(sr.FirstSeq, r.FirstSeq)
		sr.LastSeq = max(sr.LastSeq, r.LastSeq)
		if len(r.RowsByTable) > 0 {
			if sr.MinEventTime.IsZero() || r.MinEventTime.Before(sr.MinEventTime) {
				sr.MinEventTime = r.MinEventTime
			}
			if r.MaxEventTime.After(sr.MaxEventTime) {
				sr.MaxEventTime = r.MaxEventTime
			}
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return rep, fmt.Errorf("verify ledger: %w", err)
	}
	rows.Close()

	// The first batch of each chain in the period links to the batch before
	// it, which may have been written before the period.
	for i := range rep.Streams {
		for j := range rep.Streams[i].Chains {
			c := &rep.Streams[i].Chains[j]
			head := heads[[2]string{rep.Streams[i].Stream, c.Chain}]
			if err := checkPredecessor(ctx, eng, c, &head); err != nil {
				return rep, err
			}
		}
	}
	for i := range rep.Streams {
		if err := findGaps(ctx, eng, &rep.Streams[i]); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// checkRow checks one row on its own: its hash and its sequences.
func checkRow(cr *ChainReport, r *ledgerRow) {
	if h, err := chainHash(r); err != nil {
		cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, err.Error()})
	} else if h != r.Hash {
		cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "Hash does not match the row's contents"})
	}
	switch {
	case len(r.Sequences) != int(r.Messages):
		cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, fmt.Sprintf("holds %d sequences but counts %d messages", len(r.Sequences), r.Messages)})
	case len(r.Sequences) == 0:
		cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "holds no sequences"})
	case !slices.IsSorted(r.Sequences) || r.Sequences[0] != r.FirstSeq || r.Sequences[len(r.Sequences)-1] != r.LastSeq:
		cr.Breaks = append(cr.Breaks, ChainBreak{r.BatchSeq, "sequences are not ascending from FirstSeq to LastSeq"})
	}
}

// checkPredecessor checks that a chain's first row in the period follows the
// chain's batch before it (or starts the chain).
func checkPredecessor(ctx context.Context, eng store.Engine, c *ChainReport, r *ledgerRow) error {
	if r.BatchSeq <= 1 {
		if r.PrevHash != zeroHash {
			c.Breaks = append(c.Breaks, ChainBreak{r.BatchSeq, "the chain's first batch does not start from the zero hash"})
		}
		return nil
	}
	h, err := batchHash(ctx, eng, r.Stream, batchRef{Chain: r.Chain, BatchSeq: r.BatchSeq - 1})
	if err != nil {
		return fmt.Errorf("verify ledger: %w", err)
	}
	switch {
	case h == "":
		c.Breaks = append(c.Breaks, ChainBreak{r.BatchSeq, fmt.Sprintf("batch %d, before it, is not in the ledger", r.BatchSeq-1)})
	case h != r.PrevHash:
		c.Breaks = append(c.Breaks, ChainBreak{r.BatchSeq, "PrevHash is not the Hash of the batch before"})
	}
	return nil
}

// findGaps fills a stream's gaps and duplicate sequences.
func findGaps(ctx context.Context, eng store.Engine, sr *StreamReport) error {
	p := store.Params{"stream": sr.Stream, "lo": sr.FirstSeq, "hi": sr.LastSeq, "limit": uint32(reportLimit)}
	rows, err := eng.Query(ctx, ledgerGapsSQL, p)
	if err != nil {
		return fmt.Errorf("verify ledger gaps: %w", err)
	}
	for rows.Next() {
		var g SeqRange
		if err := rows.Scan(&g.First, &g.Last, &sr.GapMessages); err != nil {
			rows.Close()
			return fmt.Errorf("verify ledger gaps: %w", err)
		}
		sr.Gaps = append(sr.Gaps, g)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("verify ledger gaps: %w", err)
	}
	rows.Close()
	rows, err = eng.Query(ctx, ledgerDuplicatesSQL, p)
	if err != nil {
		return fmt.Errorf("verify ledger duplicates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, total uint64
		if err := rows.Scan(&s, &total); err != nil {
			return fmt.Errorf("verify ledger duplicates: %w", err)
		}
		sr.Duplicates = append(sr.Duplicates, s)
		sr.DuplicateCount = total
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify ledger duplicates: %w", err)
	}
	return nil
}
