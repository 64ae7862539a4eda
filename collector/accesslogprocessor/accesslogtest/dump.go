package accesslogtest

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Update is the -update flag of the tests that use golden files.
var Update = flag.Bool("update", false, "rewrite golden files")

// Record is a log record rendered for comparison: the fields Tapline sets,
// with attributes as a plain map (JSON sorts its keys).
type Record struct {
	EventName  string         `json:"event_name,omitempty"`
	Timestamp  uint64         `json:"timestamp,omitempty"`
	TraceID    string         `json:"trace_id,omitempty"`
	SpanID     string         `json:"span_id,omitempty"`
	Body       any            `json:"body,omitempty"`
	Resource   map[string]any `json:"resource,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

// Dump renders one record; res may be the zero Resource.
func Dump(rec plog.LogRecord, res pcommon.Resource) Record {
	r := Record{
		EventName:  rec.EventName(),
		Timestamp:  uint64(rec.Timestamp()),
		Attributes: rec.Attributes().AsRaw(),
	}
	if !rec.TraceID().IsEmpty() {
		r.TraceID = rec.TraceID().String()
	}
	if !rec.SpanID().IsEmpty() {
		r.SpanID = rec.SpanID().String()
	}
	if rec.Body().Type() != pcommon.ValueTypeEmpty {
		r.Body = rec.Body().AsRaw()
	}
	if res != (pcommon.Resource{}) && res.Attributes().Len() > 0 {
		r.Resource = res.Attributes().AsRaw()
	}
	return r
}

// DumpLogs renders every record of ld in order.
func DumpLogs(ld plog.Logs) []Record {
	var out []Record
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			recs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				out = append(out, Dump(recs.At(k), rl.Resource()))
			}
		}
	}
	return out
}

// Golden compares got, as indented JSON, with the file at path, or writes
// the file when -update is set.
func Golden(t testing.TB, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	b = append(b, '\n')
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != string(b) {
		t.Fatalf("%s differs from the output (run with -update to accept)\n--- got ---\n%s", path, b)
	}
}
