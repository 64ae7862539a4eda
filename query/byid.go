package query

import (
	"context"
	"fmt"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// readCopies reads the rows of a copy table (package byid) with the given
// ids within w, oldest first and at most limit of them, scans each with
// scan and keeps those keep accepts (nil keeps all). It reports whether
// there were more.
//
// The copies hold the rows a timeline shows sorted by id, so this reads a
// granule of three columns per part where the source table would read a
// granule of every column the row has. They hold what was written since
// migration 0016 and what the migration copied; on a cluster the copy of
// older rows is a step of its own, so callers fall back to the source
// table when a copy holds none of the rows the id lookup promised.
func readCopies[T any](ctx context.Context, s *Server, what string, c *byid.Copy, ids []string, w window, limit int,
	scan func(scanner) (T, error), keep func(T) bool) (out []T, truncated bool, err error) {
	st := newStmt()
	sql := "SELECT Row FROM " + c.Table() + "\nWHERE Id IN " + st.strs(ids) + "\n  AND " + st.inTime("Timestamp", w) +
		"\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(limit+1)) + pointRead
	n := 0
	err = s.each(ctx, what, sql, st.params, func(r store.Rows) error {
		if n == limit {
			truncated = true
			return nil
		}
		n++
		var raw string
		if err := r.Scan(&raw); err != nil {
			return err
		}
		row, err := c.Decode([]byte(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", c.Table(), err)
		}
		v, err := scan(row)
		if err != nil {
			return err
		}
		if keep == nil || keep(v) {
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, truncated, nil
}
