//go:build unix

package accesslog

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
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

// cpuNow is the CPU time the process has used (user + system): it counts
// what this work costs a core even when other processes share the machine.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baselineNs times encoding/json unmarshalling lines into map[string]any:
// ns per line over n lines.
func baselineNs(b *testing.B, lines [][]byte, n int) (wall, cpu float64) {
	start, startCPU := time.Now(), cpuNow(b)
	for i := range n {
		var m map[string]any
		if err := json.Unmarshal(lines[i%len(lines)], &m); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n), float64((cpuNow(b) - startCPU).Nanoseconds()) / float64(n)
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
	before, beforeCPU := baselineNs(b, lines, 100_000)
	var p NginxParser
	b.ReportAllocs()
	b.ResetTimer()
	startCPU := cpuNow(b)
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
	cpu := float64((cpuNow(b) - startCPU).Nanoseconds()) / float64(b.N)
	after, afterCPU := baselineNs(b, lines, 100_000)
	base, baseCPU := (before+after)/2, (beforeCPU+afterCPU)/2
	b.ReportMetric(1e9/ns, "lines/s")
	b.ReportMetric(1e9/cpu, "lines/cpu-s")
	b.ReportMetric(1e9/baseCPU, "json_map_lines/cpu-s")
	b.ReportMetric(base/ns, "x_vs_json_map")
}
