package ui

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// templateFuncs are the helpers the templates use. Every one returns text
// that html/template escapes, except those returning template.HTML, which
// build their markup from escaped parts.
var templateFuncs = template.FuncMap{
	"ts":        fmtTimestamp,
	"tsShort":   fmtTimestampShort,
	"dur":       fmtDuration,
	"durNS":     func(ns int64) string { return fmtDur(time.Duration(ns)) },
	"short":     shortID,
	"statusCls": statusClass,
	"pct":       func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
	"join":      strings.Join,
	"sortedMap": sortedMap,
	"ptype":     func(t string) string { return orDefault(principalTypes[t], t) },
	"inc":       func(i int) int { return i + 1 },
	"num":       fmtCount,
	"upper":     strings.ToUpper,
	"query":     queryLink,
	"hasPrefix": strings.HasPrefix,
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func fmtTimestamp(t any) string {
	tt := asTime(t)
	if tt.IsZero() || tt.Unix() <= 0 {
		return "—"
	}
	return tt.UTC().Format("2006-01-02 15:04:05.000")
}

func fmtTimestampShort(t any) string {
	tt := asTime(t)
	if tt.IsZero() || tt.Unix() <= 0 {
		return "—"
	}
	return tt.UTC().Format("2006-01-02 15:04")
}

func asTime(t any) time.Time {
	switch v := t.(type) {
	case *timestamppb.Timestamp:
		if v == nil {
			return time.Time{}
		}
		return v.AsTime()
	case time.Time:
		return v
	}
	return time.Time{}
}

func fmtDuration(d any) string {
	switch v := d.(type) {
	case *durationpb.Duration:
		if v == nil {
			return "—"
		}
		return fmtDur(v.AsDuration())
	case time.Duration:
		return fmtDur(v)
	}
	return "—"
}

// fmtDur writes a duration the way people read latencies: 850µs, 12.3ms,
// 1.25s, 3m20s.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d == 0:
		return "0"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return trimFloat(float64(d)/1e3) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/1e6) + "ms"
	case d < time.Minute:
		return trimFloat(float64(d)/1e9) + "s"
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + " days"
}

func trimFloat(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 10000 && n > -10000 {
		return s
	}
	var b strings.Builder
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteRune(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func shortID(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// statusClass is the CSS class of an HTTP status.
func statusClass(code int32) string {
	switch {
	case code >= 500:
		return "st-5xx"
	case code >= 400:
		return "st-4xx"
	case code >= 300:
		return "st-3xx"
	case code >= 200:
		return "st-2xx"
	}
	return "st-none"
}

type kv struct{ K, V string }

func sortedMap(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// queryLink builds "path?k=v&..." from pairs; empty values are left out.
func queryLink(path string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Add(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%s %s", fmtCount(n), many)
}

func kvOf(k string, v uint64) kv { return kv{k, strconv.FormatUint(v, 10)} }

func sortKV(s []kv) { sort.Slice(s, func(i, j int) bool { return s[i].K < s[j].K }) }
