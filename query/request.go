package query

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Limits on the size of request values. They keep absurd input out of
// ClickHouse; nothing legitimate comes close.
const (
	maxNameLen       = 256  // service, span name, method, attribute key
	maxValueLen      = 4096 // attribute values, principals, paths
	maxIDLen         = 256  // request ids
	maxAttrFilters   = 16
	maxSources       = 8
	minTimestamp     = 0              // 1970-01-01
	maxTimestampUnix = 9214646400 - 1 // 2262-01-01: DateTime64(9) ends in April 2262
)

// window is a resolved time range: start inclusive, end exclusive.
type window struct {
	start, end time.Time
}

func (w window) duration() time.Duration { return w.end.Sub(w.start) }

// resolveWindow applies the defaults to a request's start and end and checks
// them against the configured maximum. now is the request's "now" (pinned by
// a cursor on later pages).
func (s *Server) resolveWindow(v *violations, start, end *timestamppb.Timestamp, def time.Duration, now time.Time) window {
	var w window
	ok := true
	checkTS := func(field string, ts *timestamppb.Timestamp) (time.Time, bool) {
		if err := ts.CheckValid(); err != nil {
			v.add(field, "not a valid timestamp")
			return time.Time{}, false
		}
		if ts.GetSeconds() < minTimestamp || ts.GetSeconds() > maxTimestampUnix {
			v.add(field, "must be between 1970-01-01 and 2262-01-01")
			return time.Time{}, false
		}
		return ts.AsTime(), true
	}
	if end != nil {
		w.end, ok = checkTS("end_time", end)
	} else {
		w.end = now
	}
	if start != nil {
		var sok bool
		w.start, sok = checkTS("start_time", start)
		ok = ok && sok
	} else if ok {
		w.start = w.end.Add(-def)
		if w.start.Unix() < minTimestamp {
			w.start = time.Unix(minTimestamp, 0).UTC()
		}
	}
	if !ok {
		return w
	}
	switch {
	case !w.start.Before(w.end):
		v.add("start_time", "must be before end_time")
	case w.duration() > s.cfg.MaxWindow:
		v.add("start_time", "time range %s exceeds the maximum of %s (query.max_window)", w.duration().Round(time.Second), s.cfg.MaxWindow)
	}
	return w
}

// resolveLimit applies the default page size and caps it.
func (s *Server) resolveLimit(v *violations, limit int32) int {
	switch {
	case limit < 0:
		v.add("limit", "must be >= 0, got %d", limit)
		return 0
	case limit == 0:
		return s.cfg.DefaultLimit
	case int(limit) > s.cfg.MaxLimit:
		return s.cfg.MaxLimit
	}
	return int(limit)
}

// checkText validates a free-text filter value: valid UTF-8, no NUL, at most
// max bytes.
func checkText(v *violations, field, val string, max int) {
	switch {
	case len(val) > max:
		v.add(field, "longer than %d bytes", max)
	case !utf8.ValidString(val):
		v.add(field, "not valid UTF-8")
	case strings.ContainsRune(val, 0):
		v.add(field, "contains a NUL character")
	}
}

// normTraceID checks a W3C trace id (32 hex digits, not all zero) and
// returns it in lowercase, as stored.
func normTraceID(v *violations, field, id string) string {
	id = strings.ToLower(id)
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 16 {
		v.add(field, "must be 32 hex digits")
		return ""
	}
	if strings.Trim(id, "0") == "" {
		v.add(field, "must not be all zeros")
	}
	return id
}

func checkDuration(v *violations, field string, d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	if err := d.CheckValid(); err != nil {
		v.add(field, "not a valid duration")
		return 0
	}
	dd := d.AsDuration()
	if dd < 0 {
		v.add(field, "must be >= 0")
		return 0
	}
	return dd
}

// cursor is the position after the last item of a page. It pins the
// window of the first page, so that later pages see the same range even when
// the request left end_time to "now", and carries a hash of the filters, so a
// cursor cannot be used with other filters.
type cursor struct {
	Version int      `json:"v"`
	Filter  string   `json:"f"`           // hex of the first 8 bytes of the filters' SHA-256
	Start   int64    `json:"s"`           // window start, unix ns
	End     int64    `json:"e"`           // window end, unix ns
	Time    int64    `json:"t"`           // sort time of the last item, unix ns
	Key     string   `json:"k,omitempty"` // tie-breaker of the last item (trace id)
	Seen    []uint64 `json:"n,omitempty"` // keys of the items at Time already returned (events)
}

const cursorVersion = 1

// maxSeen caps the event keys a cursor carries: events sharing one
// nanosecond timestamp beyond this are not expected.
const maxSeen = 64

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses and checks a cursor against the request's filter hash.
func decodeCursor(v *violations, s, filter string) (cursor, bool) {
	var c cursor
	if len(s) > 4096 {
		v.add("cursor", "not a cursor of this API")
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		v.add("cursor", "not a cursor of this API")
		return c, false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Version != cursorVersion {
		v.add("cursor", "not a cursor of this API")
		return c, false
	}
	if c.Filter != filter {
		v.add("cursor", "belongs to a search with other filters; start again without a cursor")
		return c, false
	}
	if c.Start < 0 || c.End <= c.Start || c.Time < c.Start || c.Time > c.End || len(c.Seen) > maxSeen {
		v.add("cursor", "out of range")
		return c, false
	}
	return c, true
}

// filterHash hashes a request with its paging fields cleared.
func filterHash(m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
