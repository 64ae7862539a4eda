package query

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapline/tapline/store"
)

// stmt is a query under construction: SQL text made of constant fragments
// and {pN:Type} placeholders, and the values bound to them. Nothing a caller
// sends is ever written into the text.
type stmt struct {
	params store.Params
	n      int
}

func newStmt() *stmt { return &stmt{params: store.Params{}} }

// bind adds a parameter of the given ClickHouse type and returns its
// placeholder.
func (s *stmt) bind(typ string, v any) string {
	name := fmt.Sprintf("p%d", s.n)
	s.n++
	s.params[name] = v
	return "{" + name + ":" + typ + "}"
}

func (s *stmt) str(v string) string               { return s.bind("String", v) }
func (s *stmt) strs(v []string) string            { return s.bind("Array(String)", v) }
func (s *stmt) time(t time.Time) string           { return s.bind("DateTime64(9)", t.UTC()) }
func (s *stmt) u64(v uint64) string               { return s.bind("UInt64", v) }
func (s *stmt) u32(v uint32) string               { return s.bind("UInt32", v) }
func (s *stmt) seconds(t time.Time) string        { return s.bind("DateTime", t.UTC().Truncate(time.Second)) }
func (s *stmt) durationNs(d time.Duration) string { return s.u64(uint64(d)) }

// where joins conditions with AND; an empty list is "1".
func where(conds []string) string {
	if len(conds) == 0 {
		return "1"
	}
	return strings.Join(conds, "\n  AND ")
}

// inBucketedTime is Timestamp in [w.start, w.end) for access_events and
// tls_connections, whose sorting key starts with
// toStartOfFiveMinutes(Timestamp): ClickHouse does not derive that key's
// range from a condition on a DateTime64 Timestamp, so the bucket range is
// spelled out and the primary key prunes.
func (s *stmt) inBucketedTime(w window) string {
	lo, hi := s.time(w.start), s.time(w.end)
	return "toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes(" + lo + ") AND toStartOfFiveMinutes(Timestamp) <= toStartOfFiveMinutes(" + hi + ")" +
		" AND Timestamp >= " + lo + " AND Timestamp < " + hi
}

// inTime is the condition col in [w.start, w.end).
func (s *stmt) inTime(col string, w window) string {
	return col + " >= " + s.time(w.start) + " AND " + col + " < " + s.time(w.end)
}
