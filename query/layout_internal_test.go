package query

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/schema"
)

// Attribute filters are written for the skip indexes otel_traces has: the
// server reads the layout at Start, and both forms find the same spans.
func TestAttributeFiltersFollowTheIndexLayout(t *testing.T) {
	chdbtest.RequireLibrary(t)
	ctx := context.Background()
	for _, layout := range []string{schema.IndexesBloom, schema.IndexesText} {
		t.Run(layout, func(t *testing.T) {
			eng := chdbtest.Open(t)
			opts := schema.DefaultOptions()
			opts.Database, opts.Indexes, opts.Retention = "", layout, schema.Retention{}
			_, err := schema.Migrate(ctx, eng, opts)
			require.NoError(t, err)

			at := time.Date(2025, 6, 2, 10, 30, 0, 0, time.UTC)
			b, err := eng.PrepareBatch(ctx, "otel_traces", []string{"Timestamp", "TraceId", "SpanId", "ServiceName", "SpanAttributes", "ResourceAttributes"})
			require.NoError(t, err)
			require.NoError(t, b.Append(at, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "orders",
				map[string]string{"customer.tier": "gold"}, map[string]string{"host.name": "h1"}))
			require.NoError(t, b.Append(at, "1af7651916cd43dd8448eb211c80319c", "c7ad6b7169203331", "orders",
				map[string]string{"customer.tier": "free", "a=b": "c"}, map[string]string{}))
			require.NoError(t, b.Send(ctx))

			cfg := Default()
			cfg.GRPC.Listen = ""
			s, err := New(cfg, eng, Options{Now: func() time.Time { return at.Add(time.Minute) }})
			require.NoError(t, err)
			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			require.Equal(t, layout == schema.IndexesText, s.itemIndexes.Load())

			for filter, want := range map[string][]string{
				"customer.tier=gold":    {"0af7651916cd43dd8448eb211c80319c"},
				"resource:host.name=h1": {"0af7651916cd43dd8448eb211c80319c"},
				"a=b=c":                 {}, // the key is "a", not "a=b"
			} {
				q, err := s.parseTraceSearch(&taplinev1.SearchTracesRequest{Attributes: []string{filter},
					StartTime: timestamppb.New(at.Add(-time.Hour)), EndTime: timestamppb.New(at.Add(time.Minute))})
				require.NoError(t, err)
				sql, params := q.matchSQL(q.w.start)
				got := []string{}
				require.NoError(t, s.each(ctx, "search", sql, params, func(r store.Rows) error {
					var id string
					var m time.Time
					if err := r.Scan(&id, &m); err != nil {
						return err
					}
					got = append(got, id)
					return nil
				}), sql)
				require.Equal(t, want, got, filter)
			}
		})
	}
}
