package accesslog

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
)

// checkRecord holds for every line: the record is an access event keeping
// the line in tapline.raw, or a plain record keeping it in the body, and
// every string in it is UTF-8.
func checkRecord(t *testing.T, line []byte, rec plog.LogRecord, res Result) {
	t.Helper()
	raw, _ := validUTF8(line)
	attrs := rec.Attributes()
	if res.Mapped {
		if rec.EventName() != event.AccessEvent {
			t.Fatalf("mapped record has event name %q", rec.EventName())
		}
		if v, _ := attrs.Get(event.AttrRaw); v.Str() != raw {
			t.Fatalf("raw line not kept: %q", v.Str())
		}
	} else if rec.Body().Str() != raw {
		t.Fatalf("unmapped line not kept in the body")
	}
	attrs.Range(func(k string, v pcommon.Value) bool {
		if v.Type() == pcommon.ValueTypeStr && !utf8.ValidString(v.Str()) {
			t.Fatalf("attribute %s is not UTF-8: %q", k, v.Str())
		}
		return true
	})
}

func FuzzNginxJSON(f *testing.F) {
	f.Add([]byte(mtlsLine))
	f.Add([]byte(mtlsLine[:300]))
	f.Add([]byte(`{"status":200,"request_method":"GET","x":[1,{"y":"}"}],"z":null,"t":true}`))
	f.Add([]byte(`{"request_uri":"\ud83d\ude00 \ud800 \u00e9","request_id":"1"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec := plog.NewLogRecord()
		var p NginxParser
		res := p.Map(line, rec)
		checkRecord(t, line, rec, res)

		// Differential: what encoding/json accepts as an object, the scanner
		// reads to its end.
		var obj map[string]any
		if utf8.Valid(line) && json.Unmarshal(line, &obj) == nil && obj != nil {
			var sc scanner
			seen := map[string]string{}
			if err := sc.scanObject(line, func(k []byte, kind valueKind, v []byte) {
				if kind == kindString {
					seen[string(k)] = string(v)
				}
			}); err != nil {
				t.Fatalf("encoding/json accepts %q, the scanner says %v", line, err)
			}
			// The mapped values (substrings of the raw line when unescaped)
			// are what encoding/json decodes.
			for key, attr := range map[string]string{"request_method": event.AttrHTTPMethod, "http_user_agent": event.AttrUserAgent, "host": event.AttrServerAddress} {
				want, ok := obj[key].(string)
				got, has := rec.Attributes().Get(attr)
				if ok && res.Mapped && !absent(want) && (!has || got.Str() != want) {
					t.Fatalf("%s: mapped %q, encoding/json %q", key, got.Str(), want)
				}
			}
			for k, v := range seen {
				if s, ok := obj[k].(string); ok && s != v && utf8.ValidString(v) {
					// Duplicate keys: encoding/json keeps the last, as do we.
					t.Fatalf("key %q: scanner %q, encoding/json %q", k, v, s)
				}
			}
		}
	})
}

func FuzzNginxCombined(f *testing.F) {
	f.Add([]byte(`203.0.113.7 - alice [01/Mar/2026:11:00:00 +0100] "GET /index.html?lang=en HTTP/1.1" 404 153 "https://ref.example/" "Mozilla/5.0"`))
	f.Add([]byte(`::1 - - [01/Mar/2026:11:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-" "10.0.0.1"`))
	f.Add([]byte(`10.0.0.1 - - [bad time] "GET / HTTP/1.1" 200 1`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec := plog.NewLogRecord()
		var p NginxParser
		res := p.Map(line, rec)
		checkRecord(t, line, rec, res)
		if res.Format == FormatCombined && !res.Mapped {
			t.Fatal("a combined line that parsed must be mapped")
		}
	})
}

// FuzzMeshBody feeds arbitrary bodies (Istio JSON, Istio text, anything) to
// the mesh mapping: no panic, a mapped record keeps the line in tapline.raw,
// an unmapped one is left as it was.
func FuzzMeshBody(f *testing.F) {
	f.Add(istioTextLine)
	f.Add(`{"start_time":"2026-03-01T10:05:00.042Z","method":"GET","path":"/x","response_code":200,"response_flags":"-","duration":4,"x_forwarded_client_cert":"Hash=1;URI=spiffe://td/a"}`)
	f.Add(`{"start_time":"2026-03-01T10:05:00.042Z","response_flags":"UF","response_code":"x","duration":{"a":1}}`)
	f.Fuzz(func(t *testing.T, body string) {
		rec := plog.NewLogRecord()
		rec.Body().SetStr(body)
		res := MapMesh(rec)
		if !res.Mapped {
			if rec.Body().Str() != body || rec.Attributes().Len() != 0 {
				t.Fatal("an unmapped record was changed")
			}
			return
		}
		raw, _ := validUTF8([]byte(body))
		if v, _ := rec.Attributes().Get(event.AttrRaw); v.Str() != raw && v.Str() != body {
			t.Fatalf("raw line not kept: %q", v.Str())
		}
		rec.Attributes().Range(func(k string, v pcommon.Value) bool {
			if v.Type() == pcommon.ValueTypeStr && !utf8.ValidString(v.Str()) {
				t.Fatalf("attribute %s is not UTF-8: %q", k, v.Str())
			}
			return true
		})
	})
}
