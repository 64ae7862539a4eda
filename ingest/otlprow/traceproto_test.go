package otlprow

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/ingesttest"
)

// viaPdata maps data the reference way: pdata decodes, AppendTraces maps.
func viaPdata(t testing.TB, data []byte) (*Rows, error) {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
	if err != nil {
		return nil, err
	}
	var r Rows
	r.AppendTraces(td)
	return &r, nil
}

func spanJSON(t testing.TB, r *Rows) string {
	b, err := json.Marshal(byColumn(SpanColumns(), r.Spans, (*Span).AppendValues))
	require.NoError(t, err)
	return string(b)
}

// oddTraces has what AppendTracesProto must treat as pdata does: duplicate
// keys, values of every type nested in arrays and maps, special doubles,
// repeated singular fields, unknown fields, unknown enum values.
func oddTraces() ptrace.Traces {
	td := sampleTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "first")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetKind(ptrace.SpanKind(42))
	sp.Status().SetCode(ptrace.StatusCode(9))
	a := sp.Attributes()
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e-7, 123456789.125, -0.0, 5e-324} {
		a.PutEmptySlice("doubles").AppendEmpty().SetDouble(d)
	}
	a.PutDouble("nan", math.NaN())
	a.PutDouble("tiny", 1e-7)
	m := a.PutEmptyMap("nested")
	m.PutStr("z", "<&>\u2028\"")
	inner := m.PutEmptySlice("list")
	inner.AppendEmpty().SetEmptyBytes().FromRaw([]byte{1, 2, 3})
	inner.AppendEmpty().SetEmptyMap().PutBool("deep", true)
	inner.AppendEmpty() // empty value: null
	m.PutInt("a", -7)
	a.PutEmptyBytes("empty.bytes")
	ev := sp.Events().AppendEmpty()
	ev.Attributes().PutEmptyMap("m")
	return td
}

func TestAppendTracesProtoMatchesPdata(t *testing.T) {
	for name, td := range map[string]ptrace.Traces{
		"sample":    sampleTraces(),
		"odd":       oddTraces(),
		"realistic": ingesttest.Spans(0, 300),
		"empty":     ptrace.NewTraces(),
	} {
		t.Run(name, func(t *testing.T) {
			data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			require.NoError(t, err)
			want, err := viaPdata(t, data)
			require.NoError(t, err)
			var got Rows
			require.NoError(t, got.AppendTracesProto(data))
			require.Equal(t, spanJSON(t, want), spanJSON(t, &got))
			require.Equal(t, want.MinTime, got.MinTime)
			require.Equal(t, want.MaxTime, got.MaxTime)
		})
	}
}

// TestAppendTracesProtoWire feeds wire forms pdata's marshaler never
// writes: merged repeats of singular fields, duplicate keys, fields out of
// order, unknown fields.
func TestAppendTracesProtoWire(t *testing.T) {
	kv := func(k string, v []byte) []byte { return msg(fbytes(1, []byte(k)), fbytes(2, v)) }
	span := msg(
		fbytes(9, kv("k", msg(fbytes(1, []byte("one"))))),
		fbytes(5, []byte("name-1")),
		fbytes(9, kv("k", msg(fvarint(3, 2)))), // duplicate key: the last wins
		fbytes(9, msg(fbytes(2, msg(fbytes(1, []byte("x")))), fbytes(2, msg(fvarint(2, 1))), fbytes(1, []byte("merged")))),
		fbytes(9, msg(fbytes(2, msg(fbytes(1, []byte("kept")))), fbytes(2, msg()), fbytes(1, []byte("merged.empty")))),
		fbytes(5, []byte("name-2")), // a repeated scalar: the last wins
		fbytes(15, msg(fbytes(2, []byte("m1")))),
		fbytes(15, msg(fvarint(3, 2))), // status occurrences merge
		fvarint(99, 7),                 // unknown field
		fbytes(1, make([]byte, 16)),    // all-zero trace id: empty
	)
	scope := msg(fbytes(2, span), fbytes(1, msg(fbytes(1, []byte("scope-a")))), fbytes(1, msg(fbytes(2, []byte("v2")))))
	resource := msg(fbytes(1, kv("service.name", msg(fbytes(1, []byte("svc-a"))))))
	resource2 := msg(fbytes(1, kv("service.name", msg(fbytes(1, []byte("svc-b"))))))
	rs := msg(fbytes(2, scope), fbytes(1, resource), fbytes(1, resource2), fbytes(3, []byte("schema")))
	data := msg(fbytes(1, rs), fvarint(5, 1))

	want, err := viaPdata(t, data)
	require.NoError(t, err)
	var got Rows
	require.NoError(t, got.AppendTracesProto(data))
	require.Equal(t, spanJSON(t, want), spanJSON(t, &got))
	s := got.Spans[0]
	require.Equal(t, "svc-a", s.ServiceName, "service.name: the first occurrence, as pdata's Get")
	require.Equal(t, "svc-b", s.ResourceAttributes["service.name"], "the map: the last occurrence")
	require.Equal(t, "2", s.SpanAttributes["k"])
	require.Equal(t, "true", s.SpanAttributes["merged"])
	require.Equal(t, "kept", s.SpanAttributes["merged.empty"])
	require.Equal(t, "name-2", s.SpanName)
	require.Equal(t, "Error", s.StatusCode)
	require.Equal(t, "m1", s.StatusMessage)
	require.Equal(t, "scope-a", s.ScopeName)
	require.Equal(t, "v2", s.ScopeVersion)
}

func TestAppendTracesProtoFallsBack(t *testing.T) {
	deep := msg(fbytes(1, []byte("x")))
	for range maxDepth + 2 {
		deep = msg(fbytes(5, msg(fbytes(1, deep))))
	}
	withSpan := func(span []byte) []byte {
		return msg(fbytes(1, msg(fbytes(2, msg(fbytes(2, span))))))
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"garbage", []byte("\xff\xfe not protobuf"), ErrNotDirect},
		{"truncated", withSpan(msg(fbytes(5, []byte("name"))))[:6], ErrNotDirect},
		{"short trace id", withSpan(msg(fbytes(1, []byte{1, 2, 3}))), ErrNotDirect},
		{"wrong wire type", withSpan(msg(fvarint(5, 1))), ErrNotDirect},
		{"group", withSpan(ftag(nil, 40, 3)), ErrNotDirect},
		{"deprecated scope spans", msg(fbytes(1, msg(fbytes(1000, nil)))), ErrNotDirect},
		{"too deep", withSpan(msg(fbytes(9, msg(fbytes(1, []byte("k")), fbytes(2, deep))))), ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Rows
			r.AppendTraces(sampleTraces())
			before := spanJSON(t, &r)
			err := r.AppendTracesProto(tt.data)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, before, spanJSON(t, &r), "nothing appended on error")
		})
	}
}

// FuzzAppendTracesProto checks AppendTracesProto against pdata: whatever it
// decodes itself, pdata decodes too, to the same rows.
func FuzzAppendTracesProto(f *testing.F) {
	for _, td := range []ptrace.Traces{sampleTraces(), oddTraces(), ingesttest.Spans(0, 3)} {
		data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Rows
		err := got.AppendTracesProto(data)
		want, werr := viaPdata(t, data)
		if err != nil {
			if !errors.Is(err, ErrNotDirect) && !errors.Is(err, ErrTooDeep) {
				t.Fatalf("unexpected error %v", err)
			}
			require.Zero(t, got.Len())
			return
		}
		require.NoError(t, werr, "decoded directly what pdata rejects")
		require.Equal(t, spanJSON(t, want), spanJSON(t, &got))
	})
}

// Wire-format helpers for hand-made messages.

func msg(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func fbytes(num int, v []byte) []byte {
	b := appendVarint(nil, uint64(num)<<3|2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func fvarint(num int, v uint64) []byte {
	return appendVarint(appendVarint(nil, uint64(num)<<3), v)
}

// ftag writes a bare tag of the given wire type.
func ftag(b []byte, num int, typ int) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(typ))
}

func appendVarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}
