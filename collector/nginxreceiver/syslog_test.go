package nginxreceiver

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSyslog(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want syslogMessage
	}{
		{
			name: "rfc3164 as nginx sends it",
			in:   `<190>Nov 23 09:00:00 web-1 nginx: {"status":"200"}`,
			want: syslogMessage{hostname: "web-1", appName: "nginx", msg: []byte(`{"status":"200"}`)},
		},
		{
			name: "rfc3164, day padded, custom tag with pid, trailing newline",
			in:   "<134>Nov  3 09:00:00 web-1 edge[123]: line one\n",
			want: syslogMessage{hostname: "web-1", appName: "edge", msg: []byte("line one")},
		},
		{
			name: "rfc3164 without tag",
			in:   "<13>Nov 23 09:00:00 web-1 just text: with colon later",
			want: syslogMessage{hostname: "web-1", msg: []byte("just text: with colon later")},
		},
		{
			name: "rfc5424 without structured data",
			in:   `<190>1 2026-11-23T09:00:00.123Z web-2 nginx - - - {"status":"200"}`,
			want: syslogMessage{hostname: "web-2", appName: "nginx", msg: []byte(`{"status":"200"}`)},
		},
		{
			name: "rfc5424 with structured data holding ] and quotes, BOM",
			in:   "<165>1 2026-11-23T09:00:00Z host app 42 ID47 [ex@32473 a=\"x\\]y\" b=\"\\\"\"][more@1 c=\"d\"] \xef\xbb\xbfpayload here",
			want: syslogMessage{hostname: "host", appName: "app", msg: []byte("payload here")},
		},
		{
			name: "rfc5424 nil host and app",
			in:   "<14>1 - - - - - - msg",
			want: syslogMessage{msg: []byte("msg")},
		},
		{
			name: "no header: the whole message is the line",
			in:   `{"status":"200"}`,
			want: syslogMessage{msg: []byte(`{"status":"200"}`)},
		},
		{
			name: "priority out of range is no header",
			in:   `<999>Nov 23 09:00:00 h t: m`,
			want: syslogMessage{msg: []byte(`<999>Nov 23 09:00:00 h t: m`)},
		},
		{
			name: "priority but odd header: payload after the priority",
			in:   `<13>something else`,
			want: syslogMessage{msg: []byte(`something else`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, parseSyslog([]byte(tt.in)))
		})
	}
}

func readFrames(t *testing.T, in string, max int) (frames []string, tooLong []bool, err error) {
	t.Helper()
	fr := newFrameReader(strings.NewReader(in), max)
	for {
		b, err := fr.next()
		if errors.Is(err, errFrameTooLong) {
			frames, tooLong = append(frames, string(b)), append(tooLong, true)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return frames, tooLong, err
		}
		frames, tooLong = append(frames, string(b)), append(tooLong, false)
	}
}

func TestFrameReader(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name    string
		in      string
		max     int
		frames  []string
		tooLong []bool
		err     error
	}{
		{
			name:    "octet counting, messages holding newlines",
			in:      "11 <13>a\nb c d5 <13>e",
			max:     1024,
			frames:  []string{"<13>a\nb c d", "<13>e"},
			tooLong: []bool{false, false},
		},
		{
			name:    "newline framing, CRLF, last line without newline",
			in:      "<13>one\r\n<13>two\n<13>three",
			max:     1024,
			frames:  []string{"<13>one", "<13>two", "<13>three"},
			tooLong: []bool{false, false, false},
		},
		{
			name:    "mixed framing",
			in:      "<13>nl\n4 <1>x<13>after",
			max:     1024,
			frames:  []string{"<13>nl", "<1>x", "<13>after"},
			tooLong: []bool{false, false, false},
		},
		{
			name:    "over-long newline frame cut, stream stays in step",
			in:      "<13>" + long + "\n<13>next\n",
			max:     1024,
			frames:  []string{("<13>" + long)[:1024], "<13>next"},
			tooLong: []bool{true, false},
		},
		{
			name:    "over-long counted frame cut, stream stays in step",
			in:      "3004 <13>" + long + "5 <13>n",
			max:     1024,
			frames:  []string{("<13>" + long)[:1024], "<13>n"},
			tooLong: []bool{true, false},
		},
		{
			name:   "bad octet count",
			in:     "12x <13>a",
			max:    1024,
			frames: nil,
			err:    errors.New("bad syslog octet count"),
		},
		{
			name:   "counted frame cut by the connection",
			in:     "50 <13>short",
			max:    1024,
			frames: nil,
			err:    io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, tooLong, err := readFrames(t, tt.in, tt.max)
			if tt.err != nil {
				require.ErrorContains(t, err, tt.err.Error())
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.frames, frames)
			if tt.tooLong != nil {
				require.Equal(t, tt.tooLong, tooLong)
			}
		})
	}
}

// FuzzSyslogFrame feeds arbitrary bytes to the TCP framing and the header
// parser: no panic, frames never over the limit, and every payload is a
// part of its frame.
func FuzzSyslogFrame(f *testing.F) {
	f.Add([]byte("11 <13>a\nb c d5 <13>e"))
	f.Add([]byte("<190>Nov 23 09:00:00 web-1 nginx: {\"a\":\"b\"}\n<13>x"))
	f.Add([]byte("<165>1 2026-11-23T09:00:00Z h a 1 2 [x a=\"\\]\"] m\n"))
	f.Add([]byte("99999999999 <1>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 1024
		fr := newFrameReader(bytes.NewReader(in), max)
		for range 10_000 {
			b, err := fr.next()
			if err != nil && !errors.Is(err, errFrameTooLong) {
				return
			}
			if len(b) > max {
				t.Fatalf("frame of %d bytes over the %d limit", len(b), max)
			}
			m := parseSyslog(b)
			if !bytes.Contains(b, m.msg) {
				t.Fatalf("payload %q is not part of frame %q", m.msg, b)
			}
		}
		t.Fatal("framing does not make progress")
	})
}
