// Package ingest moves every message of the TAPLINE stream into ClickHouse:
// OTLP spans to otel_traces, log records to otel_logs, access and TLS events
// to access_events and tls_connections (the mapping is package otlprow), and
// one ingest_ledger row per batch. It loses nothing and stores nothing twice.
//
// # Flow
//
// Every ingest process pulls from one durable JetStream consumer (several
// processes share its work) on all of the stream's subjects, in batches of
// up to batch_size messages or batch_max_bytes, waiting at most
// batch_timeout for a batch to fill. For each batch it
//
//  1. decodes and maps the messages; a message that is not OTLP protobuf
//     for its subject is published to tapline.dlq with the reason, subject
//     and sequence in headers (and a message id, so that doing it again is
//     a duplicate JetStream drops);
//  2. writes the batch's ledger row: every stream sequence in the batch,
//     rows per table, dead letters, SHA-256 of the raw messages, and a hash
//     chained to this process's previous batch;
//  3. inserts each table's rows in one INSERT with an
//     insert_deduplication_token made of stream, chain, batch number and
//     table;
//  4. acknowledges the messages.
//
// Two goroutines share the work: one fetches, decodes, maps and encodes the
// next batch while the other writes and acknowledges the batch before it,
// so decoding overlaps the insert. Batches are written and acknowledged in
// the order they were fetched. Spans are read straight from the protobuf
// wire format (otlprow.Rows.AppendTracesProto); pdata decodes the rest and
// anything that path leaves to it.
//
// While ClickHouse or NATS fail, it retries with capped exponential backoff
// and sends in-progress acknowledgements, so JetStream keeps the messages
// for it instead of delivering them to someone else; the lag shows in
// tapline_ingest_consumer_pending.
//
// # Why nothing is lost
//
// A message is acknowledged only after its batch's rows are inserted (step 4
// after step 3). Until then JetStream keeps it and delivers it again after
// ack_wait (or at once after a negative acknowledgement on shutdown), to
// this process or another. Messages of every subject are recorded in the
// ledger, dead letters and the dead-letter copies included, so
// VerifyLedger can prove coverage: a stream sequence that no ledger row
// holds is a gap.
//
// # Why nothing is stored twice
//
// JetStream delivers at least once: a batch can come back after a crash, a
// lost acknowledgement or an expired ack_wait, and a batch that comes back
// need not hold the same messages as before (with several processes on one
// consumer, JetStream hands out messages round-robin, and redelivered ones
// mix with new ones). So ingest keys on stream sequences, not on batches:
//
//   - The ledger row is written before the rows it describes and holds the
//     exact list of the batch's sequences. A message delivered for the first
//     time cannot be in any ledger row; a message delivered again (or at or
//     below the highest sequence the ledger held when this process started,
//     which covers a consumer deleted and created again) is looked up.
//   - A message not in the ledger was never inserted: no row is inserted
//     before its ledger row exists. It is stored as new.
//   - A message in the ledger belongs to a batch that may or may not have
//     been inserted completely (the writer may have crashed after step 2,
//     or during step 3, or after step 3 before step 4). Ingest writes that
//     whole batch again: it reads the batch's messages back from the stream
//     by sequence, maps them as before (mapping is deterministic) and
//     inserts them under the batch's own deduplication tokens. ClickHouse
//     keeps the recent tokens of each table (non_replicated_deduplication_window
//     on single-node tables, the replicated window on clusters) and drops an
//     insert whose token it has seen, so what the first write stored is not
//     stored again and what it did not store is stored now. Then the message
//     is acknowledged.
//   - The ledger row itself is written with a token too, and when its insert
//     reports an error the row is looked up by its key before a retry, so a
//     batch never has two ledger rows.
//
// The tokens make this hold only within ClickHouse's deduplication window
// (the last 1000 inserts into each table by default): a batch comes back at
// the latest ack_wait (30 s by default) after its writer stopped sending
// in-progress acknowledgements, so the window must hold more inserts per
// table than all ingest processes make in that time (with the defaults,
// about 30 per second: batches are large, so this is far from the usual
// rate). Two remaining edges are
// documented rather than hidden: a process stalled longer than ack_wait
// without sending in-progress acknowledgements (a frozen VM) lets a second
// process take its messages, and both then store them; and a consumer
// deleted and re-created while ingest runs (between two reads of its
// creation time, every lag_interval) makes messages come back as
// first deliveries. VerifyLedger reports both as duplicate sequences.
//
// Writing the ledger row first has one consequence for readers: while a
// batch's inserts keep failing (a table detached, a disk full), its ledger
// row already names rows that are not stored yet. Its messages stay
// unacknowledged meanwhile (tapline_ingest_consumer_ack_pending,
// insert_errors_total), and they are stored, under the same tokens, as soon
// as the insert succeeds, by this process or by whichever process receives
// them next.
//
// # The ledger chain
//
// Each process appends to its own chain (ledger column Chain; by default a
// new name per start, or the configured chain, continued across restarts),
// numbering batches from 1 (BatchSeq). A row's Hash is SHA-256 over the
// previous row's Hash, the batch's SHA-256 and the row's other fields (see
// chainHash), so no row can be changed, removed or inserted without
// breaking the chain from there on. VerifyLedger checks every chain and
// every stream's coverage for a period; compliance reports cite each chain's
// head hash.
//
// The package must not query or change any table but the four it fills and
// the ledger, and must not acknowledge a message whose rows are not stored.
package ingest
