package natsexporter

import (
	"math/bits"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// A payload (traces or logs) is a tree: resources hold scopes, scopes hold
// items (spans or log records). An OTLP protobuf message's size is the sum of
// its fields' sizes, so the size of any selection of the tree follows from
// the sizes of its nodes without marshalling it. The planner below packs
// consecutive nodes greedily into messages of at most limit bytes: whole
// resources first, a resource too large alone by its scopes, a scope too
// large alone by its items. An item too large alone is reported, not sent.

// shape gives the planner the sizes of one payload's nodes.
type shape interface {
	resources() int
	resourceSize(r int) int
	scopes(r int) int
	scopeSize(r, s int) int
	items(r, s int) int
	itemSize(r, s, i int) int
}

// part selects nodes of one resource: the whole resource (scopeTo < 0), a run
// of whole scopes (itemTo < 0), or a run of items of one scope.
type part struct {
	res                int
	scopeFrom, scopeTo int
	itemFrom, itemTo   int
}

// plan lists the messages of a split payload, each a list of parts.
type plan struct {
	messages [][]part
	// oversize counts items that do not fit in a message even alone.
	oversize int
	// oversizeEmpty counts resources or scopes whose own attributes are too
	// large for a message although they hold no item.
	oversizeEmpty int
}

// fieldSize is the encoded size of a length-delimited protobuf field with a
// one-byte tag (every field number involved is below 16).
func fieldSize(n int) int {
	return 1 + varintSize(uint64(n)) + n
}

func varintSize(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// run is a half-open range [from, to) of consecutive nodes.
type run struct{ from, to int }

// pack groups consecutive nodes of the given encoded sizes into runs whose
// field sizes, summed, satisfy fits. Nodes that do not fit even alone are
// returned separately, in order.
func pack(n int, size func(int) int, fits func(sum int) bool) (runs []run, alone []int) {
	start, sum := 0, 0
	for i := 0; i < n; i++ {
		c := fieldSize(size(i))
		if fits(sum + c) {
			sum += c
			continue
		}
		if i > start {
			runs = append(runs, run{start, i})
		}
		if fits(c) {
			start, sum = i, c
			continue
		}
		alone = append(alone, i)
		start, sum = i+1, 0
	}
	if n > start {
		runs = append(runs, run{start, n})
	}
	return runs, alone
}

// makePlan splits a payload whose total size exceeds limit.
func makePlan(sh shape, limit int) plan {
	var p plan
	top, bigResources := pack(sh.resources(), sh.resourceSize, func(sum int) bool { return sum <= limit })
	for _, r := range top {
		msg := make([]part, 0, r.to-r.from)
		for i := r.from; i < r.to; i++ {
			msg = append(msg, part{res: i, scopeTo: -1, itemTo: -1})
		}
		p.messages = append(p.messages, msg)
	}
	for _, res := range bigResources {
		// The resource's own fields (resource, schema_url): its size minus
		// its scopes' fields.
		resOverhead := sh.resourceSize(res)
		for s := 0; s < sh.scopes(res); s++ {
			resOverhead -= fieldSize(sh.scopeSize(res, s))
		}
		scopeRuns, bigScopes := pack(sh.scopes(res), func(s int) int { return sh.scopeSize(res, s) },
			func(sum int) bool { return fieldSize(resOverhead+sum) <= limit })
		for _, r := range scopeRuns {
			p.messages = append(p.messages, []part{{res: res, scopeFrom: r.from, scopeTo: r.to, itemTo: -1}})
		}
		if sh.scopes(res) == 0 {
			p.oversizeEmpty++
		}
		for _, s := range bigScopes {
			scopeOverhead := sh.scopeSize(res, s)
			for i := 0; i < sh.items(res, s); i++ {
				scopeOverhead -= fieldSize(sh.itemSize(res, s, i))
			}
			itemRuns, bigItems := pack(sh.items(res, s), func(i int) int { return sh.itemSize(res, s, i) },
				func(sum int) bool { return fieldSize(resOverhead+fieldSize(scopeOverhead+sum)) <= limit })
			for _, r := range itemRuns {
				p.messages = append(p.messages, []part{{res: res, scopeFrom: s, scopeTo: s + 1, itemFrom: r.from, itemTo: r.to}})
			}
			p.oversize += len(bigItems)
			if sh.items(res, s) == 0 {
				p.oversizeEmpty++
			}
		}
	}
	return p
}

// traceShape sizes a ptrace.Traces for the planner.
type traceShape struct {
	rss ptrace.ResourceSpansSlice
	m   *ptrace.ProtoMarshaler
}

func (t traceShape) resources() int { return t.rss.Len() }
func (t traceShape) resourceSize(r int) int {
	return t.m.ResourceSpansSize(t.rss.At(r))
}
func (t traceShape) scopes(r int) int { return t.rss.At(r).ScopeSpans().Len() }
func (t traceShape) scopeSize(r, s int) int {
	return t.m.ScopeSpansSize(t.rss.At(r).ScopeSpans().At(s))
}
func (t traceShape) items(r, s int) int { return t.rss.At(r).ScopeSpans().At(s).Spans().Len() }
func (t traceShape) itemSize(r, s, i int) int {
	return t.m.SpanSize(t.rss.At(r).ScopeSpans().At(s).Spans().At(i))
}

// buildTraces copies the selected parts of td into a new payload.
func buildTraces(td ptrace.Traces, parts []part) ptrace.Traces {
	out := ptrace.NewTraces()
	for _, pt := range parts {
		rs := td.ResourceSpans().At(pt.res)
		if pt.scopeTo < 0 {
			rs.CopyTo(out.ResourceSpans().AppendEmpty())
			continue
		}
		ors := out.ResourceSpans().AppendEmpty()
		rs.Resource().CopyTo(ors.Resource())
		ors.SetSchemaUrl(rs.SchemaUrl())
		for s := pt.scopeFrom; s < pt.scopeTo; s++ {
			ss := rs.ScopeSpans().At(s)
			if pt.itemTo < 0 {
				ss.CopyTo(ors.ScopeSpans().AppendEmpty())
				continue
			}
			oss := ors.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(oss.Scope())
			oss.SetSchemaUrl(ss.SchemaUrl())
			for i := pt.itemFrom; i < pt.itemTo; i++ {
				ss.Spans().At(i).CopyTo(oss.Spans().AppendEmpty())
			}
		}
	}
	return out
}

// splitTraces returns td as payloads of at most limit bytes each (td itself
// when it fits) and the number of spans too large to send alone.
func splitTraces(td ptrace.Traces, limit int) ([]ptrace.Traces, int) {
	m := &ptrace.ProtoMarshaler{}
	if m.TracesSize(td) <= limit {
		return []ptrace.Traces{td}, 0
	}
	p := makePlan(traceShape{rss: td.ResourceSpans(), m: m}, limit)
	out := make([]ptrace.Traces, 0, len(p.messages))
	for _, msg := range p.messages {
		out = append(out, buildTraces(td, msg))
	}
	return out, p.oversize + p.oversizeEmpty
}

// logShape sizes a plog.Logs for the planner.
type logShape struct {
	rls plog.ResourceLogsSlice
	m   *plog.ProtoMarshaler
}

func (l logShape) resources() int { return l.rls.Len() }
func (l logShape) resourceSize(r int) int {
	return l.m.ResourceLogsSize(l.rls.At(r))
}
func (l logShape) scopes(r int) int { return l.rls.At(r).ScopeLogs().Len() }
func (l logShape) scopeSize(r, s int) int {
	return l.m.ScopeLogsSize(l.rls.At(r).ScopeLogs().At(s))
}
func (l logShape) items(r, s int) int { return l.rls.At(r).ScopeLogs().At(s).LogRecords().Len() }
func (l logShape) itemSize(r, s, i int) int {
	return l.m.LogRecordSize(l.rls.At(r).ScopeLogs().At(s).LogRecords().At(i))
}

// buildLogs copies the selected parts of ld into a new payload.
func buildLogs(ld plog.Logs, parts []part) plog.Logs {
	out := plog.NewLogs()
	for _, pt := range parts {
		rl := ld.ResourceLogs().At(pt.res)
		if pt.scopeTo < 0 {
			rl.CopyTo(out.ResourceLogs().AppendEmpty())
			continue
		}
		orl := out.ResourceLogs().AppendEmpty()
		rl.Resource().CopyTo(orl.Resource())
		orl.SetSchemaUrl(rl.SchemaUrl())
		for s := pt.scopeFrom; s < pt.scopeTo; s++ {
			sl := rl.ScopeLogs().At(s)
			if pt.itemTo < 0 {
				sl.CopyTo(orl.ScopeLogs().AppendEmpty())
				continue
			}
			osl := orl.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(osl.Scope())
			osl.SetSchemaUrl(sl.SchemaUrl())
			for i := pt.itemFrom; i < pt.itemTo; i++ {
				sl.LogRecords().At(i).CopyTo(osl.LogRecords().AppendEmpty())
			}
		}
	}
	return out
}

// splitLogs returns ld as payloads of at most limit bytes each (ld itself
// when it fits) and the number of log records too large to send alone.
func splitLogs(ld plog.Logs, limit int) ([]plog.Logs, int) {
	m := &plog.ProtoMarshaler{}
	if m.LogsSize(ld) <= limit {
		return []plog.Logs{ld}, 0
	}
	p := makePlan(logShape{rls: ld.ResourceLogs(), m: m}, limit)
	out := make([]plog.Logs, 0, len(p.messages))
	for _, msg := range p.messages {
		out = append(out, buildLogs(ld, msg))
	}
	return out, p.oversize + p.oversizeEmpty
}

// partitionLogs separates the log records whose event name is in events from
// the others, keeping resources and scopes. When all records fall on one side
// the input is returned as is, without copying.
func partitionLogs(ld plog.Logs, events map[string]struct{}) (regular, evts plog.Logs, nRegular, nEvents int) {
	if len(events) == 0 {
		return ld, plog.NewLogs(), ld.LogRecordCount(), 0
	}
	isEvent := func(lr plog.LogRecord) bool {
		_, ok := events[lr.EventName()]
		return ok
	}
	total := 0
	rls := ld.ResourceLogs()
	for r := 0; r < rls.Len(); r++ {
		sls := rls.At(r).ScopeLogs()
		for s := 0; s < sls.Len(); s++ {
			lrs := sls.At(s).LogRecords()
			for i := 0; i < lrs.Len(); i++ {
				total++
				if isEvent(lrs.At(i)) {
					nEvents++
				}
			}
		}
	}
	nRegular = total - nEvents
	switch nEvents {
	case 0:
		return ld, plog.NewLogs(), nRegular, 0
	case total:
		return plog.NewLogs(), ld, 0, nEvents
	}
	regular, evts = plog.NewLogs(), plog.NewLogs()
	for r := 0; r < rls.Len(); r++ {
		rl := rls.At(r)
		var regRL, evRL plog.ResourceLogs
		var haveReg, haveEv bool
		for s := 0; s < rl.ScopeLogs().Len(); s++ {
			sl := rl.ScopeLogs().At(s)
			var regSL, evSL plog.ScopeLogs
			var haveRegSL, haveEvSL bool
			for i := 0; i < sl.LogRecords().Len(); i++ {
				lr := sl.LogRecords().At(i)
				if isEvent(lr) {
					if !haveEv {
						evRL, haveEv = newResourceLogs(evts, rl), true
					}
					if !haveEvSL {
						evSL, haveEvSL = newScopeLogs(evRL, sl), true
					}
					lr.CopyTo(evSL.LogRecords().AppendEmpty())
					continue
				}
				if !haveReg {
					regRL, haveReg = newResourceLogs(regular, rl), true
				}
				if !haveRegSL {
					regSL, haveRegSL = newScopeLogs(regRL, sl), true
				}
				lr.CopyTo(regSL.LogRecords().AppendEmpty())
			}
		}
	}
	return regular, evts, nRegular, nEvents
}

func newResourceLogs(dst plog.Logs, src plog.ResourceLogs) plog.ResourceLogs {
	rl := dst.ResourceLogs().AppendEmpty()
	src.Resource().CopyTo(rl.Resource())
	rl.SetSchemaUrl(src.SchemaUrl())
	return rl
}

func newScopeLogs(dst plog.ResourceLogs, src plog.ScopeLogs) plog.ScopeLogs {
	sl := dst.ScopeLogs().AppendEmpty()
	src.Scope().CopyTo(sl.Scope())
	sl.SetSchemaUrl(src.SchemaUrl())
	return sl
}
