package query

import (
	"context"
	"fmt"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// readCopies reads the rows of a copy table (package byid) with the given
// ids within w, oldest first and at most limit of them, and passes each
// decoded to fn. It reports whether there were more.
//
// The copies hold the rows a timeline shows sorted by id, so this reads a
// granule of three columns per part where the source table would read a
// granule of every column the row has. They hold what was written since
// migration 0016 and what the migration copied; on a cluster the copy of
// older rows is a step of its own, so callers fall back to the source
// table when a copy holds none of the rows the id lookup promised.
func (s *Server) readCopies(ctx context.Context, what string, c *byid.Copy, ids []string, w window, limit int, fn func(byid.Row) error) (truncated bool, err error) {
	st := newStmt()
	sql := "SELECT Row FROM " + c.Table() + "\nWHERE Id IN " + st.strs(ids) + "\n  AND " + st.inTime("Timestamp", w) +
		"\nORDER BY Timestamp\nLIMIT " + st.u32(uint32(limit+1)) + pointRead
	n := 0
	err = s.each(ctx, what, sql, st.params, func(r store.Rows) error {
		if n == limit {
			truncated = true
			return nil
		}
		var raw string
		if err := r.Scan(&raw); err != nil {
			return err
		}
		row, err := c.Decode([]byte(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", c.Table(), err)
		}
		n++
		return fn(row)
	})
	return truncated, err
}
