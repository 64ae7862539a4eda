package accesslog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// benchLines are realistic NginxLogFormat lines: a third plain HTTP, a third
// TLS without and a third with a client certificate, varied ids and paths.
func benchLines() [][]byte {
	var out [][]byte
	for i := range 512 {
		line := strings.NewReplacer(
			"0123456789abcdef0123456789abcdef", fmt.Sprintf("%032x", i*7919),
			"/v1/orders?limit=5", fmt.Sprintf("/v1/orders/%d?limit=%d", i, i%50),
			"51234", fmt.Sprint(40000+i),
		).Replace(mtlsLine)
		switch i % 3 {
		case 0: // plain HTTP: the TLS variables are empty
			for _, k := range []string{"ssl_protocol", "ssl_cipher", "ssl_session_reused", "ssl_server_name", "ssl_client_verify", "ssl_client_s_dn", "ssl_client_i_dn", "ssl_client_serial", "ssl_client_fingerprint", "ssl_client_v_end"} {
				line = blank(line, k)
			}
			line = strings.Replace(line, `"scheme":"https"`, `"scheme":"http"`, 1)
		case 1: // TLS, no client certificate
			for _, k := range []string{"ssl_client_s_dn", "ssl_client_i_dn", "ssl_client_serial", "ssl_client_fingerprint", "ssl_client_v_end"} {
				line = blank(line, k)
			}
			line = strings.Replace(line, `"ssl_client_verify":"SUCCESS"`, `"ssl_client_verify":"NONE"`, 1)
		}
		out = append(out, []byte(line))
	}
	return out
}

// blank empties the value of key in a line of NginxLogFormat.
func blank(line, key string) string {
	start := strings.Index(line, `"`+key+`":"`)
	if start < 0 {
		return line
	}
	v := start + len(key) + 4
	end := v
	for end < len(line) && !(line[end] == '"' && line[end-1] != '\\') {
		end++
	}
	return line[:v] + line[end:]
}

// baselineNs times encoding/json unmarshalling lines into map[string]any:
// ns per line over n lines.
func baselineNs(b *testing.B, lines [][]byte, n int) float64 {
	start := time.Now()
	for i := range n {
		var m map[string]any
		if err := json.Unmarshal(lines[i%len(lines)], &m); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkNginxJSON parses and maps Nginx JSON lines into records, as the
// receiver does (a batch of records per 256 lines), and reports lines/s and
// the ratio against encoding/json unmarshalling the same lines into a
// map[string]any, measured in the same run.
//
//	go test -run '^$' -bench NginxJSON -benchtime 3s -cpu 1 ./collector/accesslogprocessor/accesslog/
func BenchmarkNginxJSON(b *testing.B) {
	lines := benchLines()
	// The baseline runs in the same process, before and after the timed
	// loop (b.Loop runs this function once); their mean smooths drift.
	before := baselineNs(b, lines, 100_000)
	var p NginxParser
	b.ReportAllocs()
	b.ResetTimer()
	var ld plog.Logs
	var recs plog.LogRecordSlice
	for i := 0; b.Loop(); i++ {
		if i%256 == 0 {
			ld = plog.NewLogs()
			recs = ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			recs.EnsureCapacity(256)
		}
		if res := p.Map(lines[i%len(lines)], recs.AppendEmpty()); !res.Mapped || res.BadFields > 0 {
			b.Fatalf("line %d not mapped cleanly: %+v", i%len(lines), res)
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	base := (before + baselineNs(b, lines, 100_000)) / 2
	b.ReportMetric(1e9/ns, "lines/s")
	b.ReportMetric(1e9/base, "json_map_lines/s")
	b.ReportMetric(base/ns, "x_vs_json_map")
}
