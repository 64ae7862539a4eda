package querytest

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// InsertRows maps OTLP data with ingest's row mapping (package otlprow) and
// inserts it through the engine in one batch per table. It is ingest's
// mapping and insert step without the bus: the tests use the full path
// (Load); the seed tool uses this for bulk loads.
func InsertRows(ctx context.Context, eng store.Engine, td ptrace.Traces, ld plog.Logs) error {
	var rows otlprow.Rows
	rows.AppendTraces(td)
	rows.AppendLogs(ld)
	return InsertMapped(ctx, eng, &rows)
}

// InsertMapped inserts already mapped rows.
func InsertMapped(ctx context.Context, eng store.Engine, rows *otlprow.Rows) error {
	var vals []any
	if len(rows.Spans) > 0 {
		if err := insert(ctx, eng, otlprow.TableTraces, otlprow.SpanColumns(), len(rows.Spans), func(i int) []any {
			vals = rows.Spans[i].AppendValues(vals[:0])
			return vals
		}); err != nil {
			return err
		}
	}
	if len(rows.Logs) > 0 {
		if err := insert(ctx, eng, otlprow.TableLogs, otlprow.LogColumns(), len(rows.Logs), func(i int) []any {
			vals = rows.Logs[i].AppendValues(vals[:0])
			return vals
		}); err != nil {
			return err
		}
	}
	if len(rows.Access) > 0 {
		if err := insert(ctx, eng, otlprow.TableAccess, otlprow.AccessColumns(), len(rows.Access), func(i int) []any {
			vals = rows.Access[i].AppendValues(vals[:0])
			return vals
		}); err != nil {
			return err
		}
	}
	if len(rows.TLS) > 0 {
		if err := insert(ctx, eng, otlprow.TableTLS, otlprow.TLSColumns(), len(rows.TLS), func(i int) []any {
			vals = rows.TLS[i].AppendValues(vals[:0])
			return vals
		}); err != nil {
			return err
		}
	}
	// The copies by id, as the ingest writes them.
	return errors.Join(
		byid.Insert(ctx, eng, byid.Spans, rows.Spans),
		byid.Insert(ctx, eng, byid.Events, rows.Access),
		byid.Insert(ctx, eng, byid.TLS, rows.TLS),
	)
}

func insert(ctx context.Context, eng store.Engine, table string, cols []string, n int, row func(int) []any) error {
	b, err := eng.PrepareBatch(ctx, table, cols)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", table, err)
	}
	for i := range n {
		if err := b.Append(row(i)...); err != nil {
			b.Abort()
			return fmt.Errorf("append %s row %d: %w", table, i, err)
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("insert %s: %w", table, err)
	}
	return nil
}
