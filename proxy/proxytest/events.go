package proxytest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/bus"
)

// Record is one decoded log record from tapline.events.
type Record struct {
	EventName string
	Time      time.Time
	TraceID   string // hex, "" when unset
	SpanID    string
	Body      string
	Attrs     map[string]any
	Resource  map[string]any
	MsgID     string // Nats-Msg-Id of the message that carried it
}

// Str returns a string attribute ("" when absent or not a string).
func (r Record) Str(k string) string { s, _ := r.Attrs[k].(string); return s }

// Int returns an int attribute (-1 when absent).
func (r Record) Int(k string) int64 {
	if v, ok := r.Attrs[k].(int64); ok {
		return v
	}
	return -1
}

// Bool returns a bool attribute and whether it was present.
func (r Record) Bool(k string) (v, ok bool) { v, ok = r.Attrs[k].(bool); return v, ok }

// Span is one decoded span from tapline.traces.
type Span struct {
	Name         string
	Kind         string
	TraceID      string
	SpanID       string
	ParentSpanID string
	Start, End   time.Time
	Attrs        map[string]any
	Resource     map[string]any
}

// Reader reads the TAPLINE stream from the start, one message at a time,
// decoding OTLP as it goes. Poll it from require.Eventually.
type Reader struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	next    uint64
	records []Record
	spans   []Span
}

// NewReader reads the stream through js.
func NewReader(js jetstream.JetStream) *Reader { return &Reader{js: js, next: 1} }

// SetJetStream switches to another connection (after a bus restart).
func (r *Reader) SetJetStream(js jetstream.JetStream) {
	r.mu.Lock()
	r.js = js
	r.mu.Unlock()
}

// Poll reads the messages stored since the last call.
func (r *Reader) Poll(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatalf("proxytest: stream: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("proxytest: stream info: %v", err)
	}
	for ; r.next <= info.State.LastSeq; r.next++ {
		m, err := s.GetMsg(ctx, r.next)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("proxytest: get message %d: %v", r.next, err)
		}
		id := m.Header.Get(bus.HeaderMsgID)
		switch m.Subject {
		case bus.SubjectEvents:
			req := plogotlp.NewExportRequest()
			if err := req.UnmarshalProto(m.Data); err != nil {
				t.Fatalf("proxytest: message %d is not OTLP logs: %v", r.next, err)
			}
			rls := req.Logs().ResourceLogs()
			for i := range rls.Len() {
				rl := rls.At(i)
				res := rl.Resource().Attributes().AsRaw()
				for j := range rl.ScopeLogs().Len() {
					lrs := rl.ScopeLogs().At(j).LogRecords()
					for k := range lrs.Len() {
						lr := lrs.At(k)
						rec := Record{
							EventName: lr.EventName(), Time: lr.Timestamp().AsTime(),
							Body: lr.Body().AsString(), Attrs: lr.Attributes().AsRaw(), Resource: res, MsgID: id,
						}
						if !lr.TraceID().IsEmpty() {
							rec.TraceID = lr.TraceID().String()
						}
						if !lr.SpanID().IsEmpty() {
							rec.SpanID = lr.SpanID().String()
						}
						r.records = append(r.records, rec)
					}
				}
			}
		case bus.SubjectTraces:
			req := ptraceotlp.NewExportRequest()
			if err := req.UnmarshalProto(m.Data); err != nil {
				t.Fatalf("proxytest: message %d is not OTLP traces: %v", r.next, err)
			}
			rss := req.Traces().ResourceSpans()
			for i := range rss.Len() {
				rs := rss.At(i)
				res := rs.Resource().Attributes().AsRaw()
				for j := range rs.ScopeSpans().Len() {
					sps := rs.ScopeSpans().At(j).Spans()
					for k := range sps.Len() {
						sp := sps.At(k)
						out := Span{
							Name: sp.Name(), Kind: sp.Kind().String(),
							TraceID: sp.TraceID().String(), SpanID: sp.SpanID().String(),
							Start: sp.StartTimestamp().AsTime(), End: sp.EndTimestamp().AsTime(),
							Attrs: sp.Attributes().AsRaw(), Resource: res,
						}
						if !sp.ParentSpanID().IsEmpty() {
							out.ParentSpanID = sp.ParentSpanID().String()
						}
						r.spans = append(r.spans, out)
					}
				}
			}
		}
	}
}

// Records returns the records read so far with the given event name.
func (r *Reader) Records(name string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.records {
		if rec.EventName == name {
			out = append(out, rec)
		}
	}
	return out
}

// Spans returns the spans read so far.
func (r *Reader) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Find polls until a record with the event name satisfies match, and
// returns it; the test fails after timeout.
func (r *Reader) Find(t testing.TB, name string, timeout time.Duration, match func(Record) bool) Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.Poll(t)
		for _, rec := range r.Records(name) {
			if match(rec) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxytest: no %s record matched within %s (%d seen)", name, timeout, len(r.Records(name)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FindSpan polls until a span satisfies match.
func (r *Reader) FindSpan(t testing.TB, timeout time.Duration, match func(Span) bool) Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.Poll(t)
		for _, s := range r.Spans() {
			if match(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxytest: no span matched within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
