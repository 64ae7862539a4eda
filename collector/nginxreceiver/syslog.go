package nginxreceiver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// syslogMessage is one syslog message taken apart.
type syslogMessage struct {
	hostname string
	appName  string
	msg      []byte // the payload: for Nginx, the access-log line
}

// parseSyslog splits a syslog message into header and payload. It reads the
// RFC 3164 form Nginx sends ("<190>Nov 23 09:00:00 host nginx: line") and
// RFC 5424 ("<190>1 2026-11-23T09:00:00Z host nginx - - - line"); a message
// without a recognisable header is taken as payload whole, so no line is
// lost to an unusual sender.
func parseSyslog(b []byte) syslogMessage {
	b = bytes.TrimRight(b, "\r\n\x00")
	rest, ok := parsePRI(b)
	if !ok {
		return syslogMessage{msg: b}
	}
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		if m, ok := parse5424(rest[2:]); ok {
			return m
		}
	}
	if m, ok := parse3164(rest); ok {
		return m
	}
	return syslogMessage{msg: rest}
}

// parsePRI strips "<N>" with N in 0..191.
func parsePRI(b []byte) ([]byte, bool) {
	if len(b) < 3 || b[0] != '<' {
		return b, false
	}
	n := 0
	for i := 1; i < len(b) && i <= 4; i++ {
		c := b[i]
		if c == '>' {
			if i == 1 || n > 191 {
				return b, false
			}
			return b[i+1:], true
		}
		if c < '0' || c > '9' {
			return b, false
		}
		n = n*10 + int(c-'0')
	}
	return b, false
}

// parse3164 reads "Mmm dd hh:mm:ss host tag[pid]: msg".
func parse3164(b []byte) (syslogMessage, bool) {
	// "Nov 23 09:00:00 " (day padded with a space) is 16 bytes.
	if len(b) < 16 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' || b[15] != ' ' {
		return syslogMessage{}, false
	}
	rest := b[16:]
	host, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(host) == 0 {
		return syslogMessage{}, false
	}
	// The tag ends at ':' (Nginx: "nginx: "); it holds no space.
	sp := bytes.IndexByte(rest, ' ')
	colon := bytes.IndexByte(rest, ':')
	if colon <= 0 || sp >= 0 && sp < colon {
		// No tag: the payload follows the host name.
		return syslogMessage{hostname: string(host), msg: rest}, true
	}
	tag := rest[:colon]
	if i := bytes.IndexByte(tag, '['); i >= 0 {
		tag = tag[:i]
	}
	msg := rest[colon+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	return syslogMessage{hostname: string(host), appName: string(tag), msg: msg}, true
}

// parse5424 reads "TIMESTAMP HOST APP PROCID MSGID SD MSG" after "<PRI>1 ".
func parse5424(b []byte) (syslogMessage, bool) {
	var fields [5][]byte
	rest := b
	for i := range fields {
		f, r, ok := bytes.Cut(rest, []byte{' '})
		if !ok || len(f) == 0 {
			return syslogMessage{}, false
		}
		fields[i], rest = f, r
	}
	// Structured data: "-" or one or more [id k="v"...] elements.
	if len(rest) > 0 && rest[0] == '-' {
		rest = rest[1:]
	} else {
		for len(rest) > 0 && rest[0] == '[' {
			end := sdEnd(rest)
			if end < 0 {
				return syslogMessage{}, false
			}
			rest = rest[end+1:]
		}
	}
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	rest = bytes.TrimPrefix(rest, []byte("\xef\xbb\xbf")) // BOM
	m := syslogMessage{msg: rest}
	if string(fields[1]) != "-" {
		m.hostname = string(fields[1])
	}
	if string(fields[2]) != "-" {
		m.appName = string(fields[2])
	}
	return m, true
}

// sdEnd returns the index of the ']' closing the SD element at b[0],
// skipping quoted parameter values with their \" \\ \] escapes.
func sdEnd(b []byte) int {
	inQuote := false
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ']':
			return i
		}
	}
	return -1
}

// errFrameTooLong reports an octet-counted frame over the limit; the frame
// was read and its head returned.
var errFrameTooLong = errors.New("syslog frame longer than max_line_bytes")

// frameReader splits a syslog TCP stream into messages (RFC 6587): a frame
// that starts with a digit is octet-counted ("123 <190>..."), any other is
// ended by a newline.
type frameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64*1024), max: max}
}

// next returns the next message, valid until the following call. For a
// frame longer than max it returns the first max bytes and errFrameTooLong,
// having consumed the rest, so the stream stays in step.
func (f *frameReader) next() ([]byte, error) {
	first, err := f.r.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] >= '1' && first[0] <= '9' {
		return f.octetCounted()
	}
	return f.line()
}

func (f *frameReader) octetCounted() ([]byte, error) {
	n := 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' {
			break
		}
		if c < '0' || c > '9' || n > 1<<30 {
			return nil, fmt.Errorf("bad syslog octet count")
		}
		n = n*10 + int(c-'0')
	}
	keep := min(n, f.max)
	if cap(f.buf) < keep {
		f.buf = make([]byte, keep)
	}
	f.buf = f.buf[:keep]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	if n > keep {
		if _, err := f.r.Discard(n - keep); err != nil {
			return nil, unexpectedEOF(err)
		}
		return f.buf, errFrameTooLong
	}
	return f.buf, nil
}

func (f *frameReader) line() ([]byte, error) {
	f.buf = f.buf[:0]
	tooLong := false
	for {
		chunk, err := f.r.ReadSlice('\n')
		content := chunk
		if err == nil { // a whole line's end: drop its newline
			content = bytes.TrimRight(chunk, "\r\n")
		}
		if len(f.buf)+len(content) > f.max {
			tooLong = true
		}
		if len(f.buf) < f.max {
			f.buf = append(f.buf, content[:min(len(content), f.max-len(f.buf))]...)
		}
		switch {
		case err == nil:
			if tooLong {
				return f.buf, errFrameTooLong
			}
			return f.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(f.buf) > 0: // last line without a newline
			if tooLong {
				return f.buf, errFrameTooLong
			}
			return f.buf, nil
		default:
			return nil, err
		}
	}
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
