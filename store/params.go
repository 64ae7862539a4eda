package store

import (
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the text form of a time.Time query parameter: UTC, with up
// to nine fractional digits (none when the time is a whole second), which
// ClickHouse parses for DateTime64(9) and, without a fraction, DateTime.
const TimeLayout = "2006-01-02 15:04:05.999999999"

// FormatParam returns the text ClickHouse parses as the value of a query
// parameter ({name:Type}): strings and []byte as they are (no quotes),
// bools as true/false, numbers in decimal, time.Time in TimeLayout (UTC),
// time.Duration as nanoseconds, slices as ['a','b'] and maps as
// {'k':'v'} with quotes and backslashes escaped inside them, nil (or a nil
// pointer) as \N (NULL). Named types are formatted by their underlying kind.
//
// The text is the value itself, not an SQL literal: a transport that needs
// further escaping (chDB wants top-level strings TSV-escaped) adds it.
func FormatParam(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return `\N`, nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case time.Time:
		return x.UTC().Format(TimeLayout), nil
	case time.Duration:
		return strconv.FormatInt(int64(x), 10), nil
	}
	var b strings.Builder
	if err := formatValue(&b, reflect.ValueOf(v), false); err != nil {
		return "", err
	}
	return b.String(), nil
}

// formatValue writes v; quoted is true inside arrays, maps and tuples,
// where strings and times need quotes and NULL is written NULL.
func formatValue(b *strings.Builder, v reflect.Value, quoted bool) error {
	if !v.IsValid() {
		b.WriteString(nullText(quoted))
		return nil
	}
	switch x := v.Interface().(type) {
	case time.Time:
		writeText(b, x.UTC().Format(TimeLayout), quoted)
		return nil
	case time.Duration:
		b.WriteString(strconv.FormatInt(int64(x), 10))
		return nil
	case netip.Addr:
		writeText(b, x.String(), quoted)
		return nil
	case big.Int:
		b.WriteString(x.String())
		return nil
	case *big.Int:
		if x == nil {
			b.WriteString(nullText(quoted))
		} else {
			b.WriteString(x.String())
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		writeText(b, v.String(), quoted)
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(formatFloat(v.Float(), v.Type().Bits()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString(nullText(quoted))
			return nil
		}
		return formatValue(b, v.Elem(), quoted)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice && quoted {
			// []byte inside a container is a String, like at the top level.
			writeText(b, string(v.Bytes()), true)
			return nil
		}
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := formatValue(b, v.Index(i), true); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case reflect.Map:
		keys := v.MapKeys()
		// Sorted, so that the same map always gives the same text.
		slices.SortFunc(keys, func(a, c reflect.Value) int {
			return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(c.Interface()))
		})
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := formatValue(b, k, true); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := formatValue(b, v.MapIndex(k), true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("store: cannot format %s as a query parameter", v.Type())
	}
	return nil
}

func nullText(quoted bool) string {
	if quoted {
		return "NULL"
	}
	return `\N`
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// ParamText is the text both engines send for a query-parameter value.
// ClickHouse reads a parameter the way it reads a TSV field, so a top-level
// string (or []byte) is TSV-escaped; arrays, maps and other values are sent
// in FormatParam's quoted form as they are.
func ParamText(v any) (string, error) {
	text, err := FormatParam(v)
	if err != nil {
		return "", err
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.String || (rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8) {
		return tsvEscaper.Replace(text), nil
	}
	return text, nil
}

// tsvEscaper escapes a TSV field: backslash, tab, newline, and for safety
// carriage return and NUL.
var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

// QuoteString is s as a ClickHouse string literal: in single quotes, with
// backslash, quote, newline, tab, carriage return and NUL escaped. For the
// few places a value cannot be a parameter, such as a SETTINGS value.
func QuoteString(s string) string {
	var b strings.Builder
	writeText(&b, s, true)
	return b.String()
}

// writeText writes s, inside single quotes with escapes when quoted.
func writeText(b *strings.Builder, s string, quoted bool) {
	if !quoted {
		b.WriteString(s)
		return
	}
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}
