package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// item is one stream message of a batch.
type item struct {
	seq       uint64
	subject   string
	data      []byte
	delivered uint64 // times JetStream delivered it (0 for a message read back from the stream)
}

// deadLetter is a message that could not be decoded.
type deadLetter struct {
	item
	reason string
}

// job is one insert: a new batch (with its ledger row) or a ledgered batch
// written again after a redelivery (ledger nil).
type job struct {
	ref    batchRef
	items  []item // ascending by sequence
	ledger *ledgerRow
	rows   *otlprow.Rows // the items mapped
}

// jobState is what a job has done so far, so that a retry does not repeat it.
type jobState struct {
	dead       []deadLetter
	dlqDone    bool
	ledgerDone bool
	batches    map[string]store.Batch // built, not yet sent
	sent       map[string]bool
}

// prepared is a fetched batch made ready for the commit stage: decoded,
// mapped, its ledger row chained and its inserts built.
type prepared struct {
	msgs          []jetstream.Msg
	job           *job      // nil when every message was a ledgered one, written again already
	st            *jobState // what of job is done
	rows          *otlprow.Rows
	stopKeepAlive func()
	start         time.Time
}

// prepare readies one fetched batch: messages the ledger already holds are
// written again at once (redo), the others become a new job with the next
// batch number of the chain. It returns an error only when the batch is
// abandoned.
func (in *Ingester) prepare(msgs []jetstream.Msg) (*prepared, error) {
	p := &prepared{msgs: msgs, start: time.Now()}
	items := make([]item, 0, len(msgs))
	for _, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			// Not a JetStream delivery: nothing to store or acknowledge.
			continue
		}
		items = append(items, item{seq: md.Sequence.Stream, subject: msg.Subject(), data: msg.Data(), delivered: md.NumDelivered})
		in.m.messages.WithLabelValues(subjectLabel(msg.Subject())).Inc()
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.seq, b.seq) })
	// The same message twice in one fetch (delivered again while the first
	// delivery waited): store it once, acknowledge both.
	items = slices.CompactFunc(items, func(a, b item) bool { return a.seq == b.seq })

	p.stopKeepAlive = in.keepAlive(msgs)
	select {
	case p.rows = <-in.rowsPool:
	case <-in.runCtx.Done():
		p.stopKeepAlive()
		return nil, fmt.Errorf("%w: %w", errAbandoned, in.runCtx.Err())
	}
	fail := func(err error) (*prepared, error) {
		in.release(p)
		return nil, err
	}
	fresh, redo, err := in.splitLedgered(items)
	if err != nil {
		return fail(err)
	}
	for _, l := range redo {
		if err := in.redo(l, p.rows); err != nil {
			return fail(err)
		}
	}
	if len(fresh) > 0 {
		p.job, p.st, err = in.newJob(fresh, p.rows)
		if err != nil {
			return fail(err)
		}
		// Encode the inserts now, while the commit stage sends the batch
		// before; what fails here is built again in the commit stage.
		_ = in.build(in.runCtx, p.job, p.st)
	}
	return p, nil
}

// commit stores a prepared batch (dead letters, ledger row, inserts),
// acknowledges its messages and recycles its memory. It returns an error
// only when the batch was abandoned unacknowledged.
func (in *Ingester) commit(p *prepared) error {
	if p.job != nil {
		if err := in.retry(in.runCtx, "insert", func(ctx context.Context) error { return in.write(ctx, p.job, p.st) }); err != nil {
			in.abandon(p)
			return err
		}
		in.m.batches.WithLabelValues(outcomeInserted).Inc()
	}
	if hook := in.hookBeforeAck; hook != nil {
		var batch uint64
		if p.job != nil {
			batch = p.job.ref.BatchSeq
		}
		if err := hook(batch); err != nil {
			// A simulated crash: no acknowledgement, no negative one.
			in.crashed.Store(true)
			in.release(p)
			return err
		}
	}
	ackStart := time.Now()
	for _, msg := range p.msgs {
		if err := msg.Ack(); err != nil {
			// JetStream delivers it again; the ledger then recognises it.
			in.logger.Debug("ack failed", "error", err)
		}
	}
	in.m.stageDuration.WithLabelValues(stageAck).Observe(time.Since(ackStart).Seconds())
	in.m.batchDuration.Observe(time.Since(p.start).Seconds())
	in.release(p)
	return nil
}

// release stops a batch's in-progress acknowledgements, drops its unsent
// inserts and returns its rows to the pool.
func (in *Ingester) release(p *prepared) {
	p.stopKeepAlive()
	if p.st != nil {
		p.st.abort()
	}
	if p.rows != nil {
		in.rowsPool <- p.rows
		p.rows = nil
	}
}

// abandon leaves a batch unstored: unless the process is (in a test)
// crashing, the messages are negatively acknowledged so that JetStream
// delivers them again (to this or another process) at once.
func (in *Ingester) abandon(p *prepared) {
	in.release(p)
	if in.crashed.Load() {
		return
	}
	for _, msg := range p.msgs {
		_ = msg.Nak()
	}
}

func subjectLabel(subject string) string {
	switch subject {
	case bus.SubjectTraces, bus.SubjectLogs, bus.SubjectEvents, bus.SubjectDLQ:
		return subject
	}
	return "other"
}

// keepAlive sends in-progress acknowledgements for msgs every third of
// AckWait until the returned function is called, so that a batch that waits
// for ClickHouse is not delivered to another process meanwhile.
func (in *Ingester) keepAlive(msgs []jetstream.Msg) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(in.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, msg := range msgs {
					_ = msg.InProgress()
				}
			}
		}
	}()
	return func() {
		close(stop)
		wg.Wait()
	}
}

// splitLedgered separates the messages the ledger already holds (a batch
// stored before, delivered again) from new ones. Only messages delivered
// more than once, or at or below the watermark, can be in the ledger, so
// only they are looked up.
func (in *Ingester) splitLedgered(items []item) (fresh []item, redo []*ledgered, err error) {
	if in.refreshMark.Swap(false) {
		if err := in.retry(in.runCtx, "ledger watermark", func(ctx context.Context) error {
			m, err := watermark(ctx, in.eng, in.cfg.Stream)
			in.mark = max(in.mark, m)
			return err
		}); err != nil {
			return nil, nil, err
		}
	}
	var check []uint64
	for _, it := range items {
		if it.delivered > 1 || it.seq <= in.mark {
			check = append(check, it.seq)
		}
	}
	if len(check) == 0 {
		return items, nil, nil
	}
	start := time.Now()
	var found map[uint64]*ledgered
	if err := in.retry(in.runCtx, "ledger lookup", func(ctx context.Context) error {
		var err error
		found, err = lookupLedger(ctx, in.eng, in.cfg.Stream, check)
		return err
	}); err != nil {
		return nil, nil, err
	}
	in.m.stageDuration.WithLabelValues(stageLedger).Observe(time.Since(start).Seconds())
	seen := map[batchRef]bool{}
	for _, it := range items {
		l := found[it.seq]
		if l == nil {
			fresh = append(fresh, it)
			continue
		}
		in.m.redelivered.Inc()
		if !seen[l.ref] {
			seen[l.ref] = true
			redo = append(redo, l)
		}
	}
	return fresh, redo, nil
}

// redo writes a ledgered batch again, from the stream's copies of its
// messages, under the batch's deduplication tokens: ClickHouse drops what
// the first write stored and keeps what it did not.
func (in *Ingester) redo(l *ledgered, rows *otlprow.Rows) error {
	if in.redone.has(l.ref) {
		return nil
	}
	j := &job{ref: l.ref, rows: rows}
	err := in.retry(in.runCtx, "read ledgered batch", func(ctx context.Context) error {
		j.items = j.items[:0]
		for _, seq := range l.sequences {
			raw, err := in.stream.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				in.m.missing.Inc()
				continue
			}
			if err != nil {
				return fmt.Errorf("read message %d: %w", seq, err)
			}
			j.items = append(j.items, item{seq: seq, subject: raw.Subject, data: raw.Data})
		}
		return nil
	})
	if err != nil {
		return err
	}
	var st jobState
	in.decode(j.items, rows, &st)
	if err := in.retry(in.runCtx, "insert again", func(ctx context.Context) error { return in.write(ctx, j, &st) }); err != nil {
		st.abort()
		return err
	}
	in.redone.add(l.ref)
	in.m.batches.WithLabelValues(outcomeRedone).Inc()
	return nil
}

// newJob decodes and maps a new batch into rows and prepares its ledger
// row, chained to the batch prepared before it.
func (in *Ingester) newJob(items []item, rows *otlprow.Rows) (*job, *jobState, error) {
	st := &jobState{}
	in.decode(items, rows, st)
	ref := batchRef{Chain: in.chain, BatchSeq: in.head + 1}
	digest := newBatchDigest()
	seqs := make([]uint64, len(items))
	for i, it := range items {
		digest.add(it.seq, it.subject, it.data)
		seqs[i] = it.seq
	}
	row := &ledgerRow{
		Stream:       in.cfg.Stream,
		Consumer:     in.cfg.Consumer,
		Chain:        ref.Chain,
		BatchSeq:     ref.BatchSeq,
		FirstSeq:     seqs[0],
		LastSeq:      seqs[len(seqs)-1],
		Messages:     uint32(len(items)),
		DeadLetters:  uint32(len(st.dead)),
		RowsByTable:  rowsByTable(rows),
		MinEventTime: rows.MinTime,
		MaxEventTime: rows.MaxTime,
		BatchSha256:  digest.hex(),
		PrevHash:     in.headHash,
		Sequences:    seqs,
	}
	if rows.Len() == 0 {
		row.MinEventTime, row.MaxEventTime = time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC()
	}
	var err error
	if row.Hash, err = chainHash(row); err != nil {
		return nil, nil, err
	}
	// The chain and the watermark move on when the batch is prepared: the
	// commit stage writes batches in the order they were prepared, and a
	// batch that is not written stops both stages.
	in.head, in.headHash = row.BatchSeq, row.Hash
	in.mark = max(in.mark, row.LastSeq)
	return &job{ref: ref, items: items, ledger: row, rows: rows}, st, nil
}

func rowsByTable(rows *otlprow.Rows) map[string]uint64 {
	m := make(map[string]uint64, 4)
	for _, t := range []struct {
		name string
		n    int
	}{
		{otlprow.TableTraces, len(rows.Spans)},
		{otlprow.TableLogs, len(rows.Logs)},
		{otlprow.TableAccess, len(rows.Access)},
		{otlprow.TableTLS, len(rows.TLS)},
	} {
		if t.n > 0 {
			m[t.name] = uint64(t.n)
		}
	}
	return m
}

// decode maps the items into rows (emptied first). A message that is not
// OTLP protobuf for its subject becomes a dead letter; messages of other
// subjects (dead letters themselves) have no rows.
func (in *Ingester) decode(items []item, rows *otlprow.Rows, st *jobState) {
	start := time.Now()
	rows.Reset()
	st.dead = st.dead[:0]
	for _, it := range items {
		switch it.subject {
		case bus.SubjectTraces:
			// Spans are most of the volume: read the wire format directly,
			// and leave what that does not decode to pdata, which also
			// decides what is malformed.
			err := rows.AppendTracesProto(it.data)
			if errors.Is(err, otlprow.ErrNotDirect) {
				var td ptrace.Traces
				if td, err = in.traces.UnmarshalTraces(it.data); err == nil {
					rows.AppendTraces(td)
				}
			}
			if err != nil {
				st.dead = append(st.dead, deadLetter{it, "not an OTLP ExportTraceServiceRequest in protobuf: " + err.Error()})
			}
		case bus.SubjectLogs, bus.SubjectEvents:
			ld, err := in.logs.UnmarshalLogs(it.data)
			if err != nil {
				st.dead = append(st.dead, deadLetter{it, "not an OTLP ExportLogsServiceRequest in protobuf: " + err.Error()})
				continue
			}
			rows.AppendLogs(ld)
		}
	}
	in.m.stageDuration.WithLabelValues(stageDecode).Observe(time.Since(start).Seconds())
}

// tables are the data tables in the order a job writes them: each source
// table, then its copy by id (package byid) if it has one.
var tables = []string{
	otlprow.TableTraces, byid.Spans.Table(),
	otlprow.TableLogs,
	otlprow.TableAccess, byid.Events.Table(),
	otlprow.TableTLS, byid.TLS.Table(),
}

// dedupToken names one table's insert of one batch. A batch written again
// (a retry, or another process after a redelivery) uses the same tokens.
func dedupToken(stream string, ref batchRef, table string) string {
	return "tapline-ingest/" + stream + "/" + ref.Chain + "/" + strconv.FormatUint(ref.BatchSeq, 10) + "/" + table
}

// write does what is left of a job: dead letters, the ledger row (new
// batches), then each table's insert. It is called again after a failure
// and skips the steps already done.
func (in *Ingester) write(ctx context.Context, j *job, st *jobState) error {
	if !st.dlqDone {
		for _, d := range st.dead {
			if err := in.publishDead(ctx, d); err != nil {
				return err
			}
			if j.ledger != nil {
				in.m.deadLetters.WithLabelValues(reasonDecode).Inc()
			}
		}
		st.dlqDone = true
	}
	if err := in.build(ctx, j, st); err != nil {
		return err
	}
	if j.ledger != nil && !st.ledgerDone {
		start := time.Now()
		if err := in.writeLedger(ctx, j.ledger); err != nil {
			return err
		}
		in.m.stageDuration.WithLabelValues(stageLedger).Observe(time.Since(start).Seconds())
		st.ledgerDone = true
	}
	// The tables' inserts run at once: a span's row and its copy by id
	// are written by two of the engine's connections, on two cores.
	start := time.Now()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	type pending struct {
		table string
		batch store.Batch
	}
	var todo []pending
	for _, t := range tables {
		if b := st.batches[t]; b != nil {
			todo = append(todo, pending{t, b})
		}
	}
	for _, p := range todo {
		t, b := p.table, p.batch
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := b.Rows()
			err := b.Send(ctx)
			mu.Lock()
			defer mu.Unlock()
			delete(st.batches, t) // a failed batch is built again
			if err != nil {
				in.m.insertErrors.WithLabelValues(t).Inc()
				errs = append(errs, fmt.Errorf("insert into %s: %w", t, err))
				return
			}
			if st.sent == nil {
				st.sent = map[string]bool{}
			}
			st.sent[t] = true
			in.m.rows.WithLabelValues(t).Add(float64(n))
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	in.m.stageDuration.WithLabelValues(stageInsert).Observe(time.Since(start).Seconds())
	return nil
}

// build prepares the engine's batch of every table that has rows and is
// neither built nor sent.
func (in *Ingester) build(ctx context.Context, j *job, st *jobState) error {
	start := time.Now()
	defer func() { in.m.stageDuration.WithLabelValues(stageBuild).Observe(time.Since(start).Seconds()) }()
	for _, t := range tables {
		if st.batches[t] != nil || st.sent[t] {
			continue
		}
		b, err := in.buildTable(ctx, j, t)
		if err != nil {
			in.m.insertErrors.WithLabelValues(t).Inc()
			return err
		}
		if b == nil {
			continue
		}
		if st.batches == nil {
			st.batches = map[string]store.Batch{}
		}
		st.batches[t] = b
	}
	return nil
}

// buildTable returns the engine batch of table's rows, or nil when there are none.
func (in *Ingester) buildTable(ctx context.Context, j *job, table string) (store.Batch, error) {
	if c := byid.Named(table); c != nil {
		if !in.cfg.CopiesByID {
			return nil, nil
		}
		return in.buildCopy(ctx, j, c)
	}
	n, cols, row := sourceRows(j.rows, table)
	if n == 0 {
		return nil, nil
	}
	b, err := in.eng.PrepareBatch(ctx, table, cols, store.WithDedupToken(dedupToken(in.cfg.Stream, j.ref, table)))
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	vals := make([]any, 0, len(cols))
	for i := 0; i < n; i++ {
		vals = row(i, vals[:0])
		if err := b.Append(vals...); err != nil {
			b.Abort()
			return nil, fmt.Errorf("row %d of %s: %w", i, table, err)
		}
	}
	return b, nil
}

// buildCopy returns the batch of a copy by id (package byid): the rows
// with an id, each encoding itself; nil when there are none.
func (in *Ingester) buildCopy(ctx context.Context, j *job, c *byid.Copy) (store.Batch, error) {
	r := j.rows
	var (
		n    int
		fill func(store.Batch) error
	)
	switch c {
	case byid.Spans:
		n, fill = len(r.Spans), func(b store.Batch) error { return byid.Append(b, r.Spans) }
	case byid.Events:
		n, fill = len(r.Access), func(b store.Batch) error { return byid.Append(b, r.Access) }
	case byid.TLS:
		n, fill = len(r.TLS), func(b store.Batch) error { return byid.Append(b, r.TLS) }
	}
	if n == 0 {
		return nil, nil
	}
	b, err := in.eng.PrepareBatch(ctx, c.Table(), byid.InsertColumns(), store.WithDedupToken(dedupToken(in.cfg.Stream, j.ref, c.Table())))
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", c.Table(), err)
	}
	if err := fill(b); err != nil {
		b.Abort()
		return nil, fmt.Errorf("%s: %w", c.Table(), err)
	}
	if b.Rows() == 0 {
		b.Abort()
		return nil, nil
	}
	return b, nil
}

// sourceRows returns how many rows of a source table r holds, the table's
// columns and a function appending row i's values in their order.
func sourceRows(r *otlprow.Rows, table string) (n int, cols []string, row func(i int, dst []any) []any) {
	switch table {
	case otlprow.TableTraces:
		return len(r.Spans), otlprow.SpanColumns(), func(i int, dst []any) []any { return r.Spans[i].AppendValues(dst) }
	case otlprow.TableLogs:
		return len(r.Logs), otlprow.LogColumns(), func(i int, dst []any) []any { return r.Logs[i].AppendValues(dst) }
	case otlprow.TableAccess:
		return len(r.Access), otlprow.AccessColumns(), func(i int, dst []any) []any { return r.Access[i].AppendValues(dst) }
	case otlprow.TableTLS:
		return len(r.TLS), otlprow.TLSColumns(), func(i int, dst []any) []any { return r.TLS[i].AppendValues(dst) }
	}
	return 0, nil, nil
}

// writeLedger inserts a batch's ledger row. When the insert reports an
// error, the row may have been stored all the same: it is looked up before
// the error is returned, so a retry never stores it twice.
func (in *Ingester) writeLedger(ctx context.Context, row *ledgerRow) error {
	row.InsertedAt = time.Now().UTC()
	ref := batchRef{Chain: row.Chain, BatchSeq: row.BatchSeq}
	b, err := in.eng.PrepareBatch(ctx, ledgerTable, ledgerColumns, store.WithDedupToken(dedupToken(row.Stream, ref, ledgerTable)))
	if err != nil {
		in.m.insertErrors.WithLabelValues(ledgerTable).Inc()
		return fmt.Errorf("prepare ledger row: %w", err)
	}
	if err := b.Append(row.values()...); err != nil {
		b.Abort()
		return fmt.Errorf("ledger row: %w", err)
	}
	if err := b.Send(ctx); err != nil {
		in.m.insertErrors.WithLabelValues(ledgerTable).Inc()
		if h, herr := batchHash(ctx, in.eng, row.Stream, ref); herr == nil && h == row.Hash {
			return nil
		} else if herr == nil && h != "" {
			return fmt.Errorf("ledger: chain %s already has batch %d with another hash: is another process using this chain name? %w", row.Chain, row.BatchSeq, err)
		}
		return fmt.Errorf("insert ledger row: %w", err)
	}
	return nil
}

// publishDead publishes a message that could not be decoded to the
// dead-letter subject, with why and where from in its headers. Its message
// id makes a second publish (a retry, a redelivery) a duplicate JetStream
// drops.
func (in *Ingester) publishDead(ctx context.Context, d deadLetter) error {
	msg := nats.NewMsg(bus.SubjectDLQ)
	msg.Data = d.data
	reason := d.reason
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	msg.Header.Set(bus.HeaderDLQReason, reason)
	msg.Header.Set(bus.HeaderDLQSubject, d.subject)
	msg.Header.Set(bus.HeaderDLQSequence, strconv.FormatUint(d.seq, 10))
	msg.Header.Set(bus.HeaderMsgID, "tapline-dlq-"+in.cfg.Stream+"-"+strconv.FormatUint(d.seq, 10))
	if _, err := in.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead-letter message %d: %w", d.seq, err)
	}
	return nil
}

// abort drops the batches built and not sent.
func (st *jobState) abort() {
	for t, b := range st.batches {
		b.Abort()
		delete(st.batches, t)
	}
}
