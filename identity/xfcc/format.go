package xfcc

import (
	"net/url"
	"strings"
)

// Format renders elements as an XFCC header value that Parse reads back:
// Cert and Chain URL-encoded, Subject always quoted, other values quoted
// when they hold a separator. Empty fields are left out.
func Format(elements []Element) string {
	var b strings.Builder
	for i, el := range elements {
		if i > 0 {
			b.WriteByte(',')
		}
		n := 0
		pair := func(key, val string, alwaysQuote bool) {
			if val == "" {
				return
			}
			if n > 0 {
				b.WriteByte(';')
			}
			n++
			b.WriteString(key)
			b.WriteByte('=')
			writeValue(&b, val, alwaysQuote)
		}
		pair("By", el.By, false)
		pair("Hash", el.Hash, false)
		pair("Cert", url.PathEscape(el.Cert), true)
		pair("Chain", url.PathEscape(el.Chain), true)
		pair("Subject", el.Subject, true)
		uris := el.URIs
		if len(uris) == 0 && el.URI != "" {
			uris = []string{el.URI}
		}
		for _, u := range uris {
			pair("URI", u, false)
		}
		for _, d := range el.DNS {
			pair("DNS", d, false)
		}
	}
	return b.String()
}

func writeValue(b *strings.Builder, val string, alwaysQuote bool) {
	if !alwaysQuote && !strings.ContainsAny(val, ",;=\"\\ \t") {
		b.WriteString(val)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(val); i++ {
		if val[i] == '"' || val[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(val[i])
	}
	b.WriteByte('"')
}
