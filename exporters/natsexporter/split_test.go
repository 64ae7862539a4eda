package natsexporter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/event"
)

// makeTraces builds resources × scopes × spans spans, each with an attribute
// of attrSize bytes; span i of the whole payload has span id i+1.
func makeTraces(resources, scopes, spans, attrSize int) ptrace.Traces {
	td := ptrace.NewTraces()
	n := uint64(0)
	for r := 0; r < resources; r++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		for s := 0; s < scopes; s++ {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("scope-%d", s))
			for i := 0; i < spans; i++ {
				n++
				sp := ss.Spans().AppendEmpty()
				sp.SetName("op")
				sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
				sp.SetSpanID(spanID(n))
				sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + n))
				sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_000_001_000 + n))
				sp.Attributes().PutStr("payload", strings.Repeat("x", attrSize))
			}
		}
	}
	return td
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	for i := 0; i < 8; i++ {
		id[7-i] = byte(n >> (8 * i))
	}
	return id
}

// spanIDs lists the span ids of payloads in order, with their resource and
// scope names, so that a split can be compared with its input.
func spanIDs(tds ...ptrace.Traces) []string {
	var out []string
	for _, td := range tds {
		for r := 0; r < td.ResourceSpans().Len(); r++ {
			rs := td.ResourceSpans().At(r)
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for s := 0; s < rs.ScopeSpans().Len(); s++ {
				ss := rs.ScopeSpans().At(s)
				for i := 0; i < ss.Spans().Len(); i++ {
					out = append(out, svc.Str()+"/"+ss.Scope().Name()+"/"+ss.Spans().At(i).SpanID().String())
				}
			}
		}
	}
	return out
}

func TestSplitTraces(t *testing.T) {
	tests := []struct {
		name                         string
		resources, scopes, spans, sz int
		limit                        int
		wantParts                    int // 0: more than one
		wantOversize                 int
	}{
		{name: "fits", resources: 2, scopes: 2, spans: 3, sz: 10, limit: 1 << 20, wantParts: 1},
		{name: "by resource", resources: 8, scopes: 1, spans: 4, sz: 100, limit: 1500},
		{name: "by scope", resources: 1, scopes: 8, spans: 4, sz: 100, limit: 1500},
		{name: "by span", resources: 1, scopes: 1, spans: 50, sz: 100, limit: 1500},
		{name: "mixed", resources: 3, scopes: 3, spans: 7, sz: 300, limit: 2000},
		{name: "one span too large", resources: 1, scopes: 1, spans: 3, sz: 5000, limit: 2000, wantOversize: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := makeTraces(tt.resources, tt.scopes, tt.spans, tt.sz)
			want := spanIDs(td)
			parts, oversize := splitTraces(td, tt.limit)
			require.Equal(t, tt.wantOversize, oversize)
			if tt.wantParts == 1 {
				require.Len(t, parts, 1)
				require.Equal(t, td, parts[0])
				return
			}
			if tt.wantOversize > 0 {
				require.Empty(t, spanIDs(parts...))
				return
			}
			require.Greater(t, len(parts), 1)
			for i, p := range parts {
				b, err := ptraceotlp.NewExportRequestFromTraces(p).MarshalProto()
				require.NoError(t, err)
				require.LessOrEqual(t, len(b), tt.limit, "part %d", i)
				require.Equal(t, (&ptrace.ProtoMarshaler{}).TracesSize(p), len(b), "planner size of part %d", i)
			}
			require.Equal(t, want, spanIDs(parts...), "every span once, in order, under its resource and scope")
			require.Equal(t, want, spanIDs(td), "the input is left as it was")
		})
	}
}

// TestSplitTracesPacksTightly checks the planner's size arithmetic: no part
// could have taken the first span of the next part (same scope) and still fit.
func TestSplitTracesPacksTightly(t *testing.T) {
	td := makeTraces(1, 1, 200, 37)
	limit := 4096
	parts, _ := splitTraces(td, limit)
	require.Greater(t, len(parts), 2)
	m := &ptrace.ProtoMarshaler{}
	for i := 0; i+1 < len(parts); i++ {
		merged := ptrace.NewTraces()
		parts[i].CopyTo(merged)
		next := parts[i+1].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
		next.CopyTo(merged.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty())
		require.Greater(t, m.TracesSize(merged), limit, "part %d left room for one more span", i)
	}
}

func makeLogs(names ...string) plog.Logs {
	ld := plog.NewLogs()
	for r := 0; r < 2; r++ {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", r))
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("scope")
		for i, n := range names {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetEventName(n)
			lr.Body().SetStr(fmt.Sprintf("r%d-%d", r, i))
		}
	}
	return ld
}

func bodies(ld plog.Logs) []string {
	var out []string
	for r := 0; r < ld.ResourceLogs().Len(); r++ {
		rl := ld.ResourceLogs().At(r)
		for s := 0; s < rl.ScopeLogs().Len(); s++ {
			lrs := rl.ScopeLogs().At(s).LogRecords()
			for i := 0; i < lrs.Len(); i++ {
				out = append(out, lrs.At(i).Body().Str())
			}
		}
	}
	return out
}

func TestPartitionLogs(t *testing.T) {
	events := map[string]struct{}{event.AccessEvent: {}, event.TLSEvent: {}}
	tests := []struct {
		name        string
		names       []string
		events      map[string]struct{}
		wantRegular []string
		wantEvents  []string
	}{
		{name: "no events", names: []string{"", "app.start"}, events: events,
			wantRegular: []string{"r0-0", "r0-1", "r1-0", "r1-1"}},
		{name: "only events", names: []string{event.AccessEvent, event.TLSEvent}, events: events,
			wantEvents: []string{"r0-0", "r0-1", "r1-0", "r1-1"}},
		{name: "mixed", names: []string{event.AccessEvent, "", event.TLSEvent, event.DropEvent}, events: events,
			wantRegular: []string{"r0-1", "r0-3", "r1-1", "r1-3"}, wantEvents: []string{"r0-0", "r0-2", "r1-0", "r1-2"}},
		{name: "routing off", names: []string{event.AccessEvent, ""}, events: nil,
			wantRegular: []string{"r0-0", "r0-1", "r1-0", "r1-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ld := makeLogs(tt.names...)
			regular, evts, nReg, nEv := partitionLogs(ld, tt.events)
			require.Equal(t, tt.wantRegular, bodies(regular))
			require.Equal(t, tt.wantEvents, bodies(evts))
			require.Equal(t, len(tt.wantRegular), nReg)
			require.Equal(t, len(tt.wantEvents), nEv)
			for _, part := range []plog.Logs{regular, evts} {
				for r := 0; r < part.ResourceLogs().Len(); r++ {
					require.Positive(t, part.ResourceLogs().At(r).ScopeLogs().Len(), "no empty resources")
					_, ok := part.ResourceLogs().At(r).Resource().Attributes().Get("service.name")
					require.True(t, ok, "resource attributes kept")
				}
			}
		})
	}
}

func TestSplitLogs(t *testing.T) {
	names := make([]string, 300)
	ld := makeLogs(names...)
	parts, oversize := splitLogs(ld, 2048)
	require.Zero(t, oversize)
	require.Greater(t, len(parts), 2)
	var got []string
	for _, p := range parts {
		require.LessOrEqual(t, (&plog.ProtoMarshaler{}).LogsSize(p), 2048)
		got = append(got, bodies(p)...)
	}
	require.Equal(t, bodies(ld), got)
}

func FuzzPlan(f *testing.F) {
	f.Add(uint8(3), uint8(2), uint8(5), uint16(200), uint16(1500))
	f.Add(uint8(1), uint8(1), uint8(1), uint16(3000), uint16(1024))
	f.Fuzz(func(t *testing.T, res, scopes, spans uint8, attr, limit uint16) {
		if limit < 200 {
			return
		}
		td := makeTraces(int(res%6), int(scopes%6), int(spans%20), int(attr%4000))
		parts, oversize := splitTraces(td, int(limit))
		got := spanIDs(parts...)
		m := &ptrace.ProtoMarshaler{}
		for _, p := range parts {
			if s := m.TracesSize(p); s > int(limit) {
				t.Fatalf("part of %d bytes over limit %d", s, limit)
			}
		}
		if len(got)+oversize < td.SpanCount() {
			t.Fatalf("lost spans: %d sent + %d oversize < %d", len(got), oversize, td.SpanCount())
		}
	})
}
