package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
)

// related reads what access_events_id_ts holds for one id: its related ids
// and connections, merged over its rows.
func related(t *testing.T, eng store.Engine, id string) (ids, conns []string) {
	t.Helper()
	rows, err := eng.Query(context.Background(), "SELECT arraySort(groupUniqArrayArray(Related)), arraySort(groupUniqArrayArray(Connections))"+
		" FROM access_events_id_ts WHERE Id = {id:String}", store.Params{"id": id})
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no row: %v", rows.Err())
	require.NoError(t, rows.Scan(&ids, &conns))
	return ids, conns
}

// insertHops stores the hops of one request: an nginx hop without a trace
// id, a tap hop with both ids and a connection, and a worker hop of the
// same trace without a request id.
func insertHops(t *testing.T, eng store.Engine, at time.Time, request, trace, conn string) {
	t.Helper()
	ctx := context.Background()
	b, err := eng.PrepareBatch(ctx, "access_events", []string{"Timestamp", "Source", "RequestId", "TraceId", "ConnectionId"})
	require.NoError(t, err)
	require.NoError(t, b.Append(at, "nginx", request, "", ""))
	require.NoError(t, b.Append(at.Add(time.Millisecond), "tap", request, trace, conn))
	require.NoError(t, b.Append(at.Add(2*time.Millisecond), "app", "", trace, ""))
	require.NoError(t, b.Send(ctx))
}

// Migration 0015: the id lookup table names, per id, the other ids of its
// events ("" where an event had none) and their connections, both for
// events stored after the migration (its view) and before it (the rows the
// migration adds).
func TestIDLookupNamesRelatedIDsAndConnections(t *testing.T) {
	ctx := context.Background()
	eng := openMigrated(t, "schema_id_lookup")

	at := time.Now().UTC().Add(-time.Hour)
	insertHops(t, eng, at, "req-new", "trace-new", "conn-new")
	check := func(request, trace, conn string) {
		t.Helper()
		ids, conns := related(t, eng, trace)
		require.Equal(t, []string{"", request}, ids, "a trace names its request and its events without one")
		require.Equal(t, []string{conn}, conns)
		ids, conns = related(t, eng, request)
		require.Equal(t, []string{"", trace}, ids, "a request names its trace and its events without one")
		require.Equal(t, []string{conn}, conns)
	}
	check("req-new", "trace-new", "conn-new")

	// Events stored before 0015: without the views, with the tables of
	// before emptied, then 0015 run again.
	for _, stmt := range []string{"DROP VIEW access_events_id_ts_mv", "TRUNCATE TABLE access_events_id_ts"} {
		require.NoError(t, eng.Exec(ctx, stmt, nil))
	}
	insertHops(t, eng, at.Add(time.Minute), "req-old", "trace-old", "conn-old")
	require.Zero(t, count(t, eng, "SELECT count() FROM access_events_id_ts", nil))
	require.NoError(t, eng.Exec(ctx, "DELETE FROM schema_migrations WHERE Version = 15", nil))
	opts := schema.DefaultOptions()
	opts.Database = ""
	applied, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Equal(t, []string{"0015_id_lookup_related_ids.sql"}, applied)
	check("req-old", "trace-old", "conn-old")
	check("req-new", "trace-new", "conn-new")

	// The views are back: a later event is looked up and copied too.
	insertHops(t, eng, at.Add(2*time.Minute), "req-later", "trace-later", "conn-later")
	check("req-later", "trace-later", "conn-later")
}
