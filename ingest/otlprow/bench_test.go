package otlprow

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/ingest/ingesttest"
)

// BenchmarkDecodeMap measures turning an OTLP message of 512 realistic spans
// (10 attributes, 2 events) into otel_traces rows, two ways:
//
//   - pdata: ptrace.ProtoUnmarshaler, then AppendTraces (the baseline);
//   - direct: AppendTracesProto, reading the wire format.
//
// Both reuse one Rows across messages, as ingest reuses it across batches.
// Besides wall time it reports the process's CPU time per span, garbage
// collection included (each sub-benchmark starts after a full collection),
// which other load on the machine moves less than wall time.
//
//	go test ./ingest/otlprow -run '^$' -bench DecodeMap -benchmem -count 3
func BenchmarkDecodeMap(b *testing.B) {
	const n = 512
	data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(ingesttest.Spans(0, n))
	if err != nil {
		b.Fatal(err)
	}
	var u ptrace.ProtoUnmarshaler
	ways := []struct {
		name string
		fn   func(r *Rows) error
	}{
		{"pdata", func(r *Rows) error {
			td, err := u.UnmarshalTraces(data)
			if err == nil {
				r.AppendTraces(td)
			}
			return err
		}},
		{"direct", func(r *Rows) error { return r.AppendTracesProto(data) }},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			var rows Rows
			runtime.GC()
			cpu := cpuTime()
			for b.Loop() {
				rows.Reset()
				if err := w.fn(&rows); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC() // charge the garbage made here to this run
			spans := float64(b.N * n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/spans, "cpu_ns/span")
		})
	}
}

// cpuTime is the CPU time this process has used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
