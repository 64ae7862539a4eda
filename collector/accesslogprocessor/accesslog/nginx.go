package accesslog

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
)

// NginxLogFormat is the Nginx log_format Tapline documents: one flat JSON
// object per request carrying request and trace ids, the request, the
// upstream and the TLS and client-certificate variables. Every value is a
// quoted string so that an empty variable still gives valid JSON. It is kept
// lean because Nginx's syslog output cuts messages at about 2 KB.
const NginxLogFormat = `log_format tapline escape=json '{'
    '"time_iso8601":"$time_iso8601",'
    '"msec":"$msec",'
    '"request_id":"$request_id",'
    '"http_x_request_id":"$http_x_request_id",'
    '"http_traceparent":"$http_traceparent",'
    '"remote_addr":"$remote_addr",'
    '"remote_port":"$remote_port",'
    '"request_method":"$request_method",'
    '"scheme":"$scheme",'
    '"host":"$host",'
    '"request_uri":"$request_uri",'
    '"server_protocol":"$server_protocol",'
    '"status":"$status",'
    '"request_length":"$request_length",'
    '"body_bytes_sent":"$body_bytes_sent",'
    '"request_time":"$request_time",'
    '"upstream_addr":"$upstream_addr",'
    '"upstream_status":"$upstream_status",'
    '"upstream_response_time":"$upstream_response_time",'
    '"http_user_agent":"$http_user_agent",'
    '"ssl_protocol":"$ssl_protocol",'
    '"ssl_cipher":"$ssl_cipher",'
    '"ssl_session_reused":"$ssl_session_reused",'
    '"ssl_server_name":"$ssl_server_name",'
    '"ssl_client_verify":"$ssl_client_verify",'
    '"ssl_client_s_dn":"$ssl_client_s_dn",'
    '"ssl_client_i_dn":"$ssl_client_i_dn",'
    '"ssl_client_serial":"$ssl_client_serial",'
    '"ssl_client_fingerprint":"$ssl_client_fingerprint",'
    '"ssl_client_v_end":"$ssl_client_v_end"'
'}';`

// Format is the shape a line was recognised as.
type Format uint8

// Line formats.
const (
	FormatUnknown    Format = iota // not an access-log line Tapline knows
	FormatJSON                     // NginxLogFormat (or any flat JSON object with its keys)
	FormatCombined                 // Nginx's default "combined" format
	FormatAttributes               // fields as OTLP attributes (Envoy's OpenTelemetry access logger)
	FormatIstioText                // Istio's default text access-log format
)

func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatCombined:
		return "combined"
	case FormatAttributes:
		return "attributes"
	case FormatIstioText:
		return "istio_text"
	}
	return "unknown"
}

// Result says how the mapping of one line went; the receiver and the
// processor count lines by it.
type Result struct {
	Format Format
	// Mapped is true when the record became an access event; otherwise it
	// is a plain log record holding the line, with tapline.parse_error.
	Mapped bool
	// Truncated reports a JSON line cut before its end (syslog's 2 KB limit,
	// an over-long line): the fields before the cut were kept.
	Truncated bool
	// BadFields counts values of the wrong type or unparseable, left out.
	BadFields int
	// InvalidUTF8 reports bytes that were not UTF-8 and were replaced by
	// U+FFFD (OTLP strings must be UTF-8).
	InvalidUTF8 bool
}

// NginxParser maps Nginx access-log lines to access events. It reuses its
// buffers between lines, so one parser serves one goroutine.
type NginxParser struct {
	sc scanner
}

// Map parses line (without its newline) as NginxLogFormat JSON or as the
// combined format and writes the result into rec, which should be empty. A
// line it cannot parse at all still becomes a record: a plain log record
// whose body is the line, with tapline.source and tapline.parse_error.
func (p *NginxParser) Map(line []byte, rec plog.LogRecord) Result {
	raw, badUTF8 := validUTF8(line)
	trimmed := bytes.Trim(line, " \t\r\n")
	var res Result
	res.InvalidUTF8 = badUTF8
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		res.Format = FormatJSON
		a := newAccess(event.SourceNginx)
		// Values without escapes are taken as substrings of raw, which is
		// kept anyway: no copy per field.
		src, lead := "", 0
		if !badUTF8 {
			src, lead = raw, len(line)-len(bytes.TrimLeft(line, " \t\r\n")) // as trimmed above
		}
		err := p.sc.scanObject(trimmed, func(key []byte, kind valueKind, val []byte) {
			s := ""
			if off := p.sc.offset(val); off >= 0 && src != "" {
				s = src[lead+off : lead+off+len(val)]
			} else {
				s, _ = validUTF8(val)
			}
			if !a.nginxField(key, kind, s) {
				res.BadFields++
			}
		})
		switch {
		case err == ErrTruncated:
			res.Truncated = true
			a.fail("json line cut short")
		case err != nil:
			a.fail("json syntax error")
		}
		if a.method == "" && a.status < 0 && a.requestID == "" {
			unmapped(rec, raw, event.SourceNginx, strings.Join(append(a.errs, "no request fields"), "; "))
			return res
		}
		a.nginxTimes()
		a.write(rec, raw)
		res.Mapped = true
	default:
		a, ok := parseCombined(raw)
		if !ok {
			unmapped(rec, raw, event.SourceNginx, "not an nginx access log line")
			return res
		}
		res.Format = FormatCombined
		a.write(rec, raw)
		res.Mapped = true
	}
	return res
}

// unmapped turns rec into a plain log record holding the line.
func unmapped(rec plog.LogRecord, raw, source, why string) {
	rec.Body().SetStr(raw)
	m := rec.Attributes()
	m.PutStr(event.AttrSource, source)
	m.PutStr(event.AttrParseError, why)
}

// nginx time fields, kept until all fields are read.
type nginxTimes struct{ msec, iso string }

// nginxField stores one JSON pair; it reports false for a value of the wrong
// type or an unparseable one.
func (a *access) nginxField(key []byte, kind valueKind, s string) bool {
	if kind == kindNull {
		return true
	}
	if kind == kindNested || kind == kindBool {
		a.fail("wrong type for " + strconv.Quote(string(key)))
		return false
	}
	if absent(s) {
		return true
	}
	switch string(key) {
	case "time_iso8601":
		a.times.iso = s
	case "msec":
		a.times.msec = s
	case "request_id":
		a.requestID = s
	case "http_x_request_id":
		a.incomingRequestID = s
	case "http_traceparent":
		a.setTraceparent(s)
	case "remote_addr":
		a.clientAddress = s
	case "remote_port":
		return a.setInt(&a.clientPort, key, s)
	case "request_method":
		a.method = s
	case "scheme":
		a.scheme = s
	case "host":
		a.host = s
	case "request_uri":
		a.splitTarget(s)
	case "server_protocol":
		a.protocol = ProtocolVersion(s)
	case "status":
		return a.setInt(&a.status, key, s)
	case "request_length":
		return a.setInt(&a.requestBytes, key, s)
	case "body_bytes_sent":
		return a.setInt(&a.responseBytes, key, s)
	case "request_time":
		ns, ok := parseDecimalNanos(s, int64(time.Second))
		if !ok {
			a.fail("bad request_time")
			return false
		}
		a.duration = ns
	case "upstream_addr":
		a.upstreamAddress = s
	case "upstream_status":
		a.upstreamStatus = s
	case "upstream_response_time":
		a.upstreamResponseTime = s
	case "http_user_agent":
		a.userAgent = s
	case "ssl_protocol":
		a.tlsVersion = s
	case "ssl_cipher":
		a.tlsCipher = s
	case "ssl_session_reused":
		switch s {
		case "r":
			a.tlsResumed = 1
		case ".":
			a.tlsResumed = 0
		default:
			a.fail("bad ssl_session_reused")
			return false
		}
	case "ssl_server_name":
		a.serverName = s
	case "ssl_client_verify":
		a.clientVerify = s
		if s == "SUCCESS" {
			a.verified = 1
		} else {
			a.verified = 0
		}
	case "ssl_client_s_dn":
		a.subject = s
	case "ssl_client_i_dn":
		a.issuer = s
	case "ssl_client_serial":
		a.serial = s
	case "ssl_client_fingerprint":
		a.hashSHA1 = s
	case "ssl_client_v_end":
		a.notAfter = s
	}
	return true
}

func (a *access) setInt(dst *int64, key []byte, s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		a.fail("bad " + string(key))
		return false
	}
	*dst = n
	return true
}

// nginxTimes sets the start time: the log time ($msec, else $time_iso8601)
// minus $request_time, so that every source's events carry the start.
func (a *access) nginxTimes() {
	var end int64
	if a.times.msec != "" {
		ns, ok := parseDecimalNanos(a.times.msec, int64(time.Second))
		if !ok {
			a.fail("bad msec")
		}
		end = ns
	}
	if end == 0 && a.times.iso != "" {
		t, err := time.Parse(time.RFC3339, a.times.iso)
		if err != nil {
			a.fail("bad time_iso8601")
		} else {
			end = t.UnixNano()
		}
	}
	if end > 0 {
		a.startNano = end
		if a.duration > 0 && a.duration < end {
			a.startNano = end - a.duration
		}
	}
}

// parseCombined parses Nginx's default format:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
//
// and tolerates further quoted fields after it (as in the "main" format of
// nginx.org's examples).
func parseCombined(line string) (access, bool) {
	a := newAccess(event.SourceNginx)
	f := fieldReader{s: line}
	addr, ok := f.word()
	if !ok || !looksLikeAddress(addr) {
		return a, false
	}
	if dash, ok := f.word(); !ok || dash != "-" {
		return a, false
	}
	user, ok := f.word()
	if !ok {
		return a, false
	}
	tl, ok := f.bracketed()
	if !ok {
		return a, false
	}
	t, err := time.Parse("02/Jan/2006:15:04:05 -0700", tl)
	if err != nil {
		return a, false
	}
	request, ok := f.quoted()
	if !ok {
		return a, false
	}
	status, ok := f.word()
	if !ok {
		return a, false
	}
	code, err := strconv.ParseInt(status, 10, 64)
	if err != nil || code < 0 || code > 999 {
		return a, false
	}
	bytesSent, ok := f.word()
	if !ok {
		return a, false
	}
	a.clientAddress = addr
	if user != "-" {
		a.user = unescapeNginx(user)
	}
	a.startNano = t.UnixNano()
	a.status = code
	if n, err := strconv.ParseInt(bytesSent, 10, 64); err == nil && n >= 0 {
		a.responseBytes = n
	} else {
		a.fail("bad body_bytes_sent")
	}
	// "$request" is "METHOD target PROTOCOL"; junk requests log other text.
	if parts := strings.Split(unescapeNginx(request), " "); len(parts) == 3 {
		a.method = parts[0]
		a.splitTarget(parts[1])
		a.protocol = ProtocolVersion(parts[2])
	} else if request != "" && request != "-" {
		a.fail("bad request line")
	}
	if _, ok := f.quoted(); ok { // referer: kept in the raw line only
		if ua, ok := f.quoted(); ok && ua != "-" {
			a.userAgent = unescapeNginx(ua)
		}
	}
	return a, true
}

func looksLikeAddress(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '[' || c == ']') {
			return s == "unix:"
		}
	}
	return true
}

// fieldReader splits a combined-format line.
type fieldReader struct {
	s   string
	pos int
}

func (f *fieldReader) skip() {
	for f.pos < len(f.s) && f.s[f.pos] == ' ' {
		f.pos++
	}
}

func (f *fieldReader) word() (string, bool) {
	f.skip()
	start := f.pos
	for f.pos < len(f.s) && f.s[f.pos] != ' ' {
		f.pos++
	}
	return f.s[start:f.pos], f.pos > start
}

func (f *fieldReader) bracketed() (string, bool) {
	f.skip()
	if f.pos >= len(f.s) || f.s[f.pos] != '[' {
		return "", false
	}
	end := strings.IndexByte(f.s[f.pos:], ']')
	if end < 0 {
		return "", false
	}
	v := f.s[f.pos+1 : f.pos+end]
	f.pos += end + 1
	return v, true
}

// quoted reads a "..." field; Nginx escapes '"' inside as \x22, so the next
// quote ends it.
func (f *fieldReader) quoted() (string, bool) {
	f.skip()
	if f.pos >= len(f.s) || f.s[f.pos] != '"' {
		return "", false
	}
	end := strings.IndexByte(f.s[f.pos+1:], '"')
	if end < 0 {
		return "", false
	}
	v := f.s[f.pos+1 : f.pos+1+end]
	f.pos += end + 2
	return v, true
}

// unescapeNginx decodes the \xHH escapes of Nginx's default log escaping.
func unescapeNginx(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2:i+4]) {
			n, _ := strconv.ParseUint(s[i+2:i+4], 16, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	out, _ := validUTF8([]byte(b.String()))
	return out
}
