package otlprow

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tapline/tapline/event"
)

// ErrNotDirect is returned by AppendTracesProto for input it does not
// decode itself: malformed protobuf and the rare constructs it leaves to
// pdata (deprecated and profile-only fields, groups). The caller decodes
// such a message with ptrace.ProtoUnmarshaler and maps it with AppendTraces,
// which also decides whether the message is malformed.
var ErrNotDirect = errors.New("otlprow: message not decoded directly")

// ErrTooDeep is returned for attribute values nested deeper than maxDepth:
// a message no exporter sends, which would make a recursive decoder run out
// of stack.
var ErrTooDeep = errors.New("otlprow: attribute values nested too deeply")

// maxDepth bounds the nesting of array and map attribute values.
const maxDepth = 64

// AppendTracesProto maps the spans of an OTLP ExportTraceServiceRequest in
// protobuf to otel_traces rows, exactly as AppendTraces maps the message
// decoded by pdata, but reading the wire format directly: no pdata tree is
// built and strings refer to data instead of being copied, so data must not
// change while the rows are in use. On error nothing is appended.
func (r *Rows) AppendTracesProto(data []byte) error {
	n, nshared, minT, maxT := len(r.Spans), r.nshared, r.MinTime, r.MaxTime
	if err := r.tracesRequest(data); err != nil {
		r.Spans, r.nshared, r.MinTime, r.MaxTime = r.Spans[:n], nshared, minT, maxT
		return err
	}
	return nil
}

// field reads one field's tag and value: for length-delimited fields v is
// the bytes, for the others num holds the value. rest is what follows.
type field struct {
	num  protowire.Number
	typ  protowire.Type
	v    []byte
	x    uint64
	rest []byte
}

// read reads the field at the start of b into f and reports whether b held
// a well-formed field. (Filling the caller's field, rather than returning
// one, keeps this hot loop free of copies.)
func (f *field) read(b []byte) bool {
	var tag uint64
	if len(b) > 0 && b[0] < 0x80 {
		tag, b = uint64(b[0]), b[1:]
	} else {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		tag, b = v, b[n:]
	}
	num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
	if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
		return false
	}
	f.num, f.typ = num, typ
	var n int
	switch typ {
	case protowire.VarintType:
		f.x, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		f.x, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var x uint32
		x, n = protowire.ConsumeFixed32(b)
		f.x = uint64(x)
	case protowire.BytesType:
		var l uint64
		if len(b) > 0 && b[0] < 0x80 {
			l, n = uint64(b[0]), 1
		} else if l, n = protowire.ConsumeVarint(b); n < 0 {
			return false
		}
		if l > uint64(len(b)-n) {
			return false
		}
		f.v = b[n : n+int(l) : n+int(l)]
		n += int(l)
	default: // groups: left to pdata
		return false
	}
	if n < 0 {
		return false
	}
	f.rest = b[n:]
	return true
}

// want checks a known field's wire type, as pdata does.
func (f field) want(typ protowire.Type) error {
	if f.typ != typ {
		return ErrNotDirect
	}
	return nil
}

// str returns bytes as a string without copying.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (r *Rows) tracesRequest(b []byte) error {
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		if f.num == 1 {
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			if err := r.resourceSpans(f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Rows) resourceSpans(b []byte) error {
	var resources, scopes [][]byte
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1:
			resources = append(resources, f.v)
		case 2:
			scopes = append(scopes, f.v)
		case 3:
		case 1000: // deprecated scope spans: pdata moves them
			return ErrNotDirect
		default:
			continue
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
	}
	// A message field that occurs twice is merged: the attributes of every
	// occurrence, in order.
	resMap := r.nextShared()
	var (
		service     string
		haveService bool
	)
	for _, res := range resources {
		var f field
		for len(res) > 0 {
			if !f.read(res) {
				return ErrNotDirect
			}
			res = f.rest
			switch f.num {
			case 1:
				if err := f.want(protowire.BytesType); err != nil {
					return err
				}
				k, v, err := keyValue(f.v)
				if err != nil {
					return err
				}
				resMap[k] = v
				if k == event.AttrServiceName && !haveService {
					service, haveService = v, true // pdata's Get finds the first
				}
			case 2:
				if err := f.want(protowire.VarintType); err != nil {
					return err
				}
			case 3: // entity references: left to pdata
				return ErrNotDirect
			}
		}
	}
	for _, s := range scopes {
		if err := r.scopeSpans(s, service, resMap); err != nil {
			return err
		}
	}
	return nil
}

// nextShared returns an emptied map from the pool of shared maps.
func (r *Rows) nextShared() map[string]string {
	if r.nshared == len(r.shared) {
		r.shared = append(r.shared, make(map[string]string))
	}
	m := r.shared[r.nshared]
	if m == nil {
		m = make(map[string]string)
		r.shared[r.nshared] = m
	}
	clear(m)
	r.nshared++
	return m
}

func (r *Rows) scopeSpans(b []byte, service string, resMap map[string]string) error {
	var (
		scopes, spans     [][]byte
		scopeName, scopeV string
	)
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1:
			scopes = append(scopes, f.v)
		case 2:
			spans = append(spans, f.v)
		case 3:
		default:
			continue
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
	}
	for _, s := range scopes {
		var f field
		for len(s) > 0 {
			if !f.read(s) {
				return ErrNotDirect
			}
			s = f.rest
			switch f.num {
			case 1, 2:
				if err := f.want(protowire.BytesType); err != nil {
					return err
				}
				if f.num == 1 {
					scopeName = str(f.v)
				} else {
					scopeV = str(f.v)
				}
			case 3: // scope attributes: not stored, but checked
				if err := f.want(protowire.BytesType); err != nil {
					return err
				}
				if _, _, err := keyValue(f.v); err != nil {
					return err
				}
			case 4:
				if err := f.want(protowire.VarintType); err != nil {
					return err
				}
			}
		}
	}
	for _, sp := range spans {
		if err := r.span(sp, service, resMap, scopeName, scopeV); err != nil {
			return err
		}
	}
	return nil
}

// id checks a trace or span id as pdata does: empty or exactly n bytes.
func id(b []byte, n int) ([]byte, error) {
	if len(b) != 0 && len(b) != n {
		return nil, ErrNotDirect
	}
	return b, nil
}

func hexOrEmpty(b []byte) string {
	for _, c := range b {
		if c != 0 {
			return hexString(b)
		}
	}
	return ""
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0x0f]
	}
	return unsafe.String(&out[0], len(out))
}

func (r *Rows) span(b []byte, service string, resMap map[string]string, scopeName, scopeVersion string) error {
	row := nextRow(&r.Spans)
	row.ServiceName, row.ResourceAttributes = service, resMap
	row.ScopeName, row.ScopeVersion = scopeName, scopeVersion
	row.SpanAttributes = clearMap(row.SpanAttributes)
	row.EventTimestamps, row.EventNames = row.EventTimestamps[:0], row.EventNames[:0]
	row.LinkTraceIDs, row.LinkSpanIDs, row.LinkTraceStates = row.LinkTraceIDs[:0], row.LinkSpanIDs[:0], row.LinkTraceStates[:0]
	nEvents, nLinks := 0, 0
	var (
		traceID, spanID, parentID []byte
		traceState, name, message string
		kind, code                int32
		start, end                uint64
		err                       error
	)
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1, 2, 3, 4, 5, 9, 11, 13, 15:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
		case 6, 10, 12, 14:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
		case 7, 8:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
		case 16:
			if err := f.want(protowire.Fixed32Type); err != nil {
				return err
			}
		}
		switch f.num {
		case 1:
			if traceID, err = id(f.v, 16); err != nil {
				return err
			}
		case 2:
			if spanID, err = id(f.v, 8); err != nil {
				return err
			}
		case 3:
			traceState = str(f.v)
		case 4:
			if parentID, err = id(f.v, 8); err != nil {
				return err
			}
		case 5:
			name = str(f.v)
		case 6:
			kind = int32(f.x)
		case 7:
			start = f.x
		case 8:
			end = f.x
		case 9:
			k, v, err := keyValue(f.v)
			if err != nil {
				return err
			}
			row.SpanAttributes[k] = v
		case 11:
			row.EventAttributes = resizeMaps(row.EventAttributes, nEvents+1)
			row.EventAttributes[nEvents] = clearMap(row.EventAttributes[nEvents])
			t, n, err := spanEvent(f.v, row.EventAttributes[nEvents])
			if err != nil {
				return err
			}
			row.EventTimestamps = append(row.EventTimestamps, nanosTime(pcommon.Timestamp(t)))
			row.EventNames = append(row.EventNames, n)
			nEvents++
		case 13:
			row.LinkAttributes = resizeMaps(row.LinkAttributes, nLinks+1)
			row.LinkAttributes[nLinks] = clearMap(row.LinkAttributes[nLinks])
			tid, sid, ts, err := spanLink(f.v, row.LinkAttributes[nLinks])
			if err != nil {
				return err
			}
			row.LinkTraceIDs = append(row.LinkTraceIDs, tid)
			row.LinkSpanIDs = append(row.LinkSpanIDs, sid)
			row.LinkTraceStates = append(row.LinkTraceStates, ts)
			nLinks++
		case 15:
			var g field
			for s := f.v; len(s) > 0; {
				if !g.read(s) {
					return ErrNotDirect
				}
				s = g.rest
				switch g.num {
				case 2:
					if err := g.want(protowire.BytesType); err != nil {
						return err
					}
					message = str(g.v)
				case 3:
					if err := g.want(protowire.VarintType); err != nil {
						return err
					}
					code = int32(g.x)
				}
			}
		}
	}
	row.EventAttributes = row.EventAttributes[:nEvents]
	row.LinkAttributes = row.LinkAttributes[:nLinks]
	row.TraceID = hexOrEmpty(traceID)
	row.SpanID = hexOrEmpty(spanID)
	row.ParentSpanID = hexOrEmpty(parentID)
	row.TraceState = traceState
	row.SpanName = name
	row.SpanKind = ptrace.SpanKind(kind).String()
	row.Timestamp = nanosTime(pcommon.Timestamp(start))
	row.Duration = 0
	if end > start {
		row.Duration = end - start
	}
	row.StatusCode = ptrace.StatusCode(code).String()
	row.StatusMessage = message
	r.observe(row.Timestamp)
	return nil
}

func clearMap(m map[string]string) map[string]string {
	if m == nil {
		return make(map[string]string)
	}
	clear(m)
	return m
}

func spanEvent(b []byte, attrs map[string]string) (uint64, string, error) {
	var (
		t    uint64
		name string
	)
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return 0, "", ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return 0, "", err
			}
			t = f.x
		case 2:
			if err := f.want(protowire.BytesType); err != nil {
				return 0, "", err
			}
			name = str(f.v)
		case 3:
			if err := f.want(protowire.BytesType); err != nil {
				return 0, "", err
			}
			k, v, err := keyValue(f.v)
			if err != nil {
				return 0, "", err
			}
			attrs[k] = v
		case 4:
			if err := f.want(protowire.VarintType); err != nil {
				return 0, "", err
			}
		}
	}
	return t, name, nil
}

func spanLink(b []byte, attrs map[string]string) (traceID, spanID, state string, err error) {
	var tid, sid []byte
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return "", "", "", ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1, 2, 3, 4:
			if err := f.want(protowire.BytesType); err != nil {
				return "", "", "", err
			}
		case 5:
			if err := f.want(protowire.VarintType); err != nil {
				return "", "", "", err
			}
		case 6:
			if err := f.want(protowire.Fixed32Type); err != nil {
				return "", "", "", err
			}
		}
		switch f.num {
		case 1:
			if tid, err = id(f.v, 16); err != nil {
				return "", "", "", err
			}
		case 2:
			if sid, err = id(f.v, 8); err != nil {
				return "", "", "", err
			}
		case 3:
			state = str(f.v)
		case 4:
			k, v, err := keyValue(f.v)
			if err != nil {
				return "", "", "", err
			}
			attrs[k] = v
		}
	}
	return hexOrEmpty(tid), hexOrEmpty(sid), state, nil
}

// keyValue decodes one KeyValue to its key and its value as AsString gives it.
func keyValue(b []byte) (string, string, error) {
	var (
		key string
		val anyValue
	)
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return "", "", ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType); err != nil {
				return "", "", err
			}
			key = str(f.v)
		case 2:
			if err := f.want(protowire.BytesType); err != nil {
				return "", "", err
			}
			// A second occurrence merges into the first: its value, if
			// any, wins.
			if err := val.merge(f.v); err != nil {
				return "", "", err
			}
		case 3: // key from a profile's string table: left to pdata
			return "", "", ErrNotDirect
		}
	}
	s, err := val.String()
	return key, s, err
}

// Kinds of AnyValue, in the oneof's field numbers.
const (
	kindEmpty  = 0
	kindStr    = 1
	kindBool   = 2
	kindInt    = 3
	kindDouble = 4
	kindArray  = 5
	kindMap    = 6
	kindBytes  = 7
)

// anyValue is a decoded AnyValue: its last oneof field wins, as in pdata.
type anyValue struct {
	kind    int
	x       uint64
	b       []byte
	complex pcommon.Value // arrays and maps, built with pdata's own types
}

func (a *anyValue) merge(b []byte) error {
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case kindStr, kindArray, kindMap, kindBytes:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
		case kindBool, kindInt:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
		case kindDouble:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
		case 8: // string from a profile's string table: left to pdata
			return ErrNotDirect
		default:
			continue
		}
		a.kind, a.x, a.b = int(f.num), f.x, f.v
		if a.kind == kindArray || a.kind == kindMap {
			a.complex = pcommon.NewValueEmpty()
			if err := fillComplex(a.kind, f.v, a.complex, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// String is the value as pcommon.Value.AsString gives it.
func (a *anyValue) String() (string, error) {
	switch a.kind {
	case kindStr:
		return str(a.b), nil
	case kindBool:
		return strconv.FormatBool(a.x != 0), nil
	case kindInt:
		return strconv.FormatInt(int64(a.x), 10), nil
	case kindDouble:
		return pcommon.NewValueDouble(math.Float64frombits(a.x)).AsString(), nil
	case kindBytes:
		return base64.StdEncoding.EncodeToString(a.b), nil
	case kindArray, kindMap:
		return a.complex.AsString(), nil
	}
	return "", nil
}

// fillValue sets v from an AnyValue's bytes, merging occurrences as pdata does.
func fillValue(b []byte, v pcommon.Value, depth int) error {
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case kindStr:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			v.SetStr(string(f.v))
		case kindBool:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			v.SetBool(f.x != 0)
		case kindInt:
			if err := f.want(protowire.VarintType); err != nil {
				return err
			}
			v.SetInt(int64(f.x))
		case kindDouble:
			if err := f.want(protowire.Fixed64Type); err != nil {
				return err
			}
			v.SetDouble(math.Float64frombits(f.x))
		case kindBytes:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			v.SetEmptyBytes().FromRaw(append([]byte(nil), f.v...))
		case kindArray, kindMap:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			if err := fillComplex(int(f.num), f.v, v, depth+1); err != nil {
				return err
			}
		case 8:
			return ErrNotDirect
		}
	}
	return nil
}

// fillComplex sets v to the ArrayValue or KeyValueList in b.
func fillComplex(kind int, b []byte, v pcommon.Value, depth int) error {
	if depth > maxDepth {
		return ErrTooDeep
	}
	var (
		s pcommon.Slice
		m pcommon.Map
	)
	if kind == kindArray {
		s = v.SetEmptySlice()
	} else {
		m = v.SetEmptyMap()
	}
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		if f.num != 1 {
			continue
		}
		if err := f.want(protowire.BytesType); err != nil {
			return err
		}
		if kind == kindArray {
			if err := fillValue(f.v, s.AppendEmpty(), depth); err != nil {
				return err
			}
			continue
		}
		if err := fillKeyValue(f.v, m, depth); err != nil {
			return err
		}
	}
	return nil
}

// fillKeyValue puts a nested KeyValue into m.
func fillKeyValue(b []byte, m pcommon.Map, depth int) error {
	var (
		key    string
		values [][]byte
	)
	var f field
	for len(b) > 0 {
		if !f.read(b) {
			return ErrNotDirect
		}
		b = f.rest
		switch f.num {
		case 1:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			key = string(f.v)
		case 2:
			if err := f.want(protowire.BytesType); err != nil {
				return err
			}
			values = append(values, f.v)
		case 3:
			return ErrNotDirect
		}
	}
	v := m.PutEmpty(key)
	for _, val := range values {
		if err := fillValue(val, v, depth); err != nil {
			return err
		}
	}
	return nil
}
