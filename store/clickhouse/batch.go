package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tapline/tapline/store"
)

// batch is a clickhouse-go batch: rows are buffered in columns client-side
// and sent as one native-format insert.
type batch struct {
	b       driver.Batch
	table   string
	columns []string
}

// Append adds one row; clickhouse-go checks each value against its column
// type. It accepts the Go types store.Rows documents (string for UUID and
// Decimal, netip.Addr for IPv4/IPv6, *big.Int, time.Time, maps, slices).
func (b *batch) Append(values ...any) error {
	if len(values) != len(b.columns) {
		return fmt.Errorf("batch into %s: %d values for %d columns", b.table, len(values), len(b.columns))
	}
	if err := b.b.Append(values...); err != nil {
		return fmt.Errorf("batch into %s: %w", b.table, storeError(err))
	}
	return nil
}

func (b *batch) Rows() int { return b.b.Rows() }

// Send writes the rows in one insert. The context of PrepareBatch governs
// the insert (clickhouse-go binds it at prepare time); ctx is checked first.
func (b *batch) Send(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		_ = b.b.Abort()
		return err
	}
	if err := b.b.Send(); err != nil {
		return fmt.Errorf("batch into %s: %w", b.table, storeError(err))
	}
	return nil
}

func (b *batch) Abort() { _ = b.b.Abort() }

var _ store.Batch = (*batch)(nil)
