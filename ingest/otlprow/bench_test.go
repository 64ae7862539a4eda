package otlprow

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/ingesttest"
)

// BenchmarkDecodeMap measures decoding an OTLP message of 512 realistic
// spans (10 attributes, 2 events) and mapping it to otel_traces rows, per
// span, with a Rows reused across messages as ingest reuses it across
// batches: pdata's decoder then AppendTraces (decode+map), and
// AppendTracesProto reading the wire format (direct). pdata's decoding
// alone (decode) is the baseline.
//
//	go test ./ingest/otlprow -run '^$' -bench . -benchmem
func BenchmarkDecodeMap(b *testing.B) {
	const n = 512
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(ingesttest.Spans(0, n))
	if err != nil {
		b.Fatal(err)
	}
	var u ptrace.ProtoUnmarshaler
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := u.UnmarshalTraces(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	})
	b.Run("decode+map", func(b *testing.B) {
		b.ReportAllocs()
		var rows Rows
		for b.Loop() {
			td, err := u.UnmarshalTraces(data)
			if err != nil {
				b.Fatal(err)
			}
			rows.Reset()
			rows.AppendTraces(td)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		var rows Rows
		for b.Loop() {
			rows.Reset()
			if err := rows.AppendTracesProto(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	})
	td, err := u.UnmarshalTraces(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		var rows Rows
		for b.Loop() {
			rows.Reset()
			rows.AppendTraces(td)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/span")
	})
}
