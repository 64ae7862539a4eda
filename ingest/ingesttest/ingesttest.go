// Package ingesttest gives tests of ingest and of what reads its tables the
// real parts: an embedded ClickHouse with Tapline's schema, an embedded NATS
// with the TAPLINE stream, and realistic OTLP messages to publish on it.
package ingesttest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/schema"
)

// Engine returns an embedded ClickHouse engine on a database of its own with
// Tapline's schema applied. It is closed when the test ends.
func Engine(tb testing.TB) store.Engine {
	tb.Helper()
	eng := chdbtest.Open(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := schema.DefaultOptions()
	opts.Database = eng.Database()
	if _, err := schema.Migrate(ctx, eng, opts); err != nil {
		tb.Fatalf("ingesttest: migrate: %v", err)
	}
	if err := ensureLedgerSequences(ctx, eng); err != nil {
		tb.Fatalf("ingesttest: %v", err)
	}
	return eng
}

// ensureLedgerSequences adds the ledger's Sequences column where the schema
// does not have it yet.
func ensureLedgerSequences(ctx context.Context, eng store.Engine) error {
	err := eng.Exec(ctx, "ALTER TABLE ingest_ledger ADD COLUMN IF NOT EXISTS Sequences Array(UInt64) CODEC(Delta, ZSTD(1))", nil)
	if err != nil {
		return fmt.Errorf("ledger Sequences column: %w", err)
	}
	return nil
}

// Bus starts an embedded NATS JetStream server with the TAPLINE stream for
// the test and returns it; it is shut down when the test ends.
func Bus(tb testing.TB) *bus.Bus {
	tb.Helper()
	return bustest.Start(tb, bustest.Config(), "")
}

// Connect opens another client connection to b, as a second process would.
func Connect(tb testing.TB, b *bus.Bus) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(b.Embedded().ClientURL())
	if err != nil {
		tb.Fatalf("ingesttest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("ingesttest: jetstream: %v", err)
	}
	return js
}

// Count returns the number of rows of table.
func Count(tb testing.TB, eng store.Engine, table string) uint64 {
	tb.Helper()
	n, err := CountWhere(context.Background(), eng, table, "1")
	if err != nil {
		tb.Fatalf("ingesttest: count %s: %v", table, err)
	}
	return n
}

// CountWhere returns the number of rows of table that match cond (test SQL,
// never user input).
func CountWhere(ctx context.Context, eng store.Engine, table, cond string) (uint64, error) {
	rows, err := eng.Query(ctx, "SELECT count() FROM "+table+" WHERE "+cond, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// Publisher publishes OTLP messages to the stream, each with a message id.
type Publisher struct {
	tb  testing.TB
	js  jetstream.JetStream
	seq int
}

// NewPublisher returns a Publisher on js.
func NewPublisher(tb testing.TB, js jetstream.JetStream) *Publisher {
	return &Publisher{tb: tb, js: js}
}

// Raw publishes data to subject and returns its stream sequence.
func (p *Publisher) Raw(subject string, data []byte) uint64 {
	p.tb.Helper()
	p.seq++
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(bus.HeaderMsgID, "ingesttest-"+strconv.Itoa(p.seq)+"-"+strconv.FormatUint(rand.Uint64(), 36))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		p.tb.Fatalf("ingesttest: publish to %s: %v", subject, err)
	}
	return ack.Sequence
}

// Traces publishes td on tapline.traces.
func (p *Publisher) Traces(td ptrace.Traces) uint64 {
	p.tb.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		p.tb.Fatalf("ingesttest: marshal traces: %v", err)
	}
	return p.Raw(bus.SubjectTraces, b)
}

// Logs publishes ld on subject (tapline.logs or tapline.events).
func (p *Publisher) Logs(subject string, ld plog.Logs) uint64 {
	p.tb.Helper()
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		p.tb.Fatalf("ingesttest: marshal logs: %v", err)
	}
	return p.Raw(subject, b)
}

// Base is the time the generated telemetry starts at: the start of the hour
// the test process started in, so that rows are inside the tables' TTL.
var Base = time.Now().UTC().Truncate(time.Hour)

// Spans returns n realistic spans (10 attributes, 2 events each) of one
// resource, numbered from first: span i has span id i (big-endian) and
// attribute "test.seq" = i, so a test can tell every span apart.
func Spans(first, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "checkout")
	res.PutStr("service.version", "1.4.2")
	res.PutStr("host.name", "node-3")
	res.PutStr("k8s.pod.name", "checkout-7d9c6b8f4-x2x8q")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("opentelemetry.instrumentation.fastapi")
	ss.Scope().SetVersion("0.48b0")
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	for i := first; i < first+n; i++ {
		sp := spans.AppendEmpty()
		var tid [16]byte
		binary.BigEndian.PutUint64(tid[8:], uint64(i/8)+1)
		tid[0] = 0xab
		var sid [8]byte
		binary.BigEndian.PutUint64(sid[:], uint64(i)+1)
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID(sid))
		if i%8 != 0 {
			var parent [8]byte
			binary.BigEndian.PutUint64(parent[:], uint64(i-i%8)+1)
			sp.SetParentSpanID(pcommon.SpanID(parent))
		}
		start := Base.Add(time.Duration(i) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(1000+i%5000) * time.Microsecond)))
		sp.SetName("GET /api/orders/{order_id}")
		sp.SetKind(ptrace.SpanKindServer)
		a := sp.Attributes()
		a.PutInt("test.seq", int64(i))
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/orders/{order_id}")
		a.PutStr("url.path", "/api/orders/"+strconv.Itoa(100000+i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("server.address", "orders.internal")
		a.PutInt("server.port", 8080)
		a.PutStr("client.address", "10.1.2."+strconv.Itoa(i%250))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
		a.PutStr("tapline.request_id", fmt.Sprintf("%032x", i))
		for e := 0; e < 2; e++ {
			ev := sp.Events().AppendEmpty()
			ev.SetName([]string{"db.query", "cache.miss"}[e])
			ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(100*(e+1)) * time.Microsecond)))
			ev.Attributes().PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
			ev.Attributes().PutInt("db.rows", int64(e))
		}
		if i%4 == 0 {
			sp.Status().SetCode(ptrace.StatusCodeOk)
		}
	}
	return td
}

// Logs returns n application log records, numbered from first in attribute
// "test.seq".
func Logs(first, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "orders-api")
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := first; i < first+n; i++ {
		lr := records.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(Base.Add(time.Duration(i) * time.Millisecond)))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr("order " + strconv.Itoa(i) + " listed")
		lr.Attributes().PutInt("test.seq", int64(i))
	}
	return ld
}

// Events returns n access events and n TLS events, numbered from first in
// attribute "test.seq"; every fifth TLS event is a failed handshake.
func Events(first, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "tapline-proxy")
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := first; i < first+n; i++ {
		ts := pcommon.NewTimestampFromTime(Base.Add(time.Duration(i) * time.Millisecond))
		acc := records.AppendEmpty()
		acc.SetEventName(event.AccessEvent)
		acc.SetTimestamp(ts)
		a := acc.Attributes()
		a.PutInt("test.seq", int64(i))
		a.PutStr(event.AttrSource, event.SourceTap)
		a.PutStr(event.AttrRequestID, fmt.Sprintf("%032x", i))
		a.PutStr(event.AttrHTTPMethod, "GET")
		a.PutStr(event.AttrURLPath, "/api/orders")
		a.PutInt(event.AttrHTTPStatus, 200)
		a.PutStr(event.AttrTLSProtocolVersion, "1.3")
		a.PutStr(event.AttrTLSClientNotAfter, "2030-01-01T00:00:00Z")
		a.PutStr(event.AttrPrincipal, "spiffe://example.org/ns/shop/sa/cart")
		a.PutStr(event.AttrDecision, event.DecisionAllow)
		tl := records.AppendEmpty()
		tl.SetEventName(event.TLSEvent)
		tl.SetTimestamp(ts)
		t := tl.Attributes()
		t.PutInt("test.seq", int64(i))
		t.PutStr(event.AttrConnectionID, "c-"+strconv.Itoa(i))
		if i%5 == 0 {
			t.PutStr(event.AttrTLSFailure, event.TLSFailureUnknownCA)
		} else {
			t.PutStr(event.AttrTLSProtocolVersion, "1.3")
		}
	}
	return ld
}
