package ui

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeRange is a page's time window: relative ("last 1h", range=1h) or
// absolute (from=...&to=..., UTC).
type timeRange struct {
	Relative string
	From, To time.Time
}

// relativeRanges are the choices the time picker offers.
var relativeRanges = []struct{ Value, Label string }{
	{"5m", "Last 5 minutes"}, {"15m", "Last 15 minutes"}, {"1h", "Last hour"}, {"6h", "Last 6 hours"},
	{"24h", "Last 24 hours"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"},
}

// absoluteLayout is how absolute times appear in the URL and the picker
// (the value format of <input type="datetime-local">), in UTC.
const absoluteLayout = "2006-01-02T15:04"

// parseRange reads range, from and to. Absolute bounds win over a relative
// range; an absolute start without an end runs to now.
func parseRange(q url.Values, now time.Time, def string) (timeRange, error) {
	from, to := strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	if from != "" || to != "" {
		var tr timeRange
		var err error
		if from == "" {
			return timeRange{}, fmt.Errorf("time range: give a start (from) with the end")
		}
		if tr.From, err = parseTime(from); err != nil {
			return timeRange{}, fmt.Errorf("time range: from: %w", err)
		}
		tr.To = now
		if to != "" {
			if tr.To, err = parseTime(to); err != nil {
				return timeRange{}, fmt.Errorf("time range: to: %w", err)
			}
		}
		if !tr.From.Before(tr.To) {
			return timeRange{}, fmt.Errorf("time range: the start must be before the end")
		}
		return tr, nil
	}
	rel := strings.TrimSpace(q.Get("range"))
	if rel == "" {
		rel = def
	}
	d, err := parseRelative(rel)
	if err != nil {
		return timeRange{}, fmt.Errorf("time range: %w", err)
	}
	return timeRange{Relative: rel, From: now.Add(-d), To: now}, nil
}

// parseRelative reads "15m", "6h", "7d".
func parseRelative(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3660 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration such as 15m, 6h or 7d", s)
	}
	return d, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{absoluteLayout, "2006-01-02T15:04:05", time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2025-06-02T10:00 (UTC)", s)
}

// set writes the range into query values.
func (tr timeRange) set(q url.Values) {
	q.Del("range")
	q.Del("from")
	q.Del("to")
	if tr.Relative != "" {
		q.Set("range", tr.Relative)
		return
	}
	q.Set("from", tr.From.Format(absoluteLayout))
	q.Set("to", tr.To.Format(absoluteLayout))
}

// absolute writes the same window with fixed bounds (for links that must
// show what the page showed).
func (tr timeRange) absolute() timeRange { return timeRange{From: tr.From, To: tr.To} }

// Label describes the window for headings.
func (tr timeRange) Label() string {
	for _, r := range relativeRanges {
		if r.Value == tr.Relative {
			return r.Label
		}
	}
	if tr.Relative != "" {
		return "Last " + tr.Relative
	}
	return tr.From.Format("2006-01-02 15:04") + " – " + tr.To.Format("2006-01-02 15:04") + " UTC"
}

// FromValue and ToValue fill the absolute inputs.
func (tr timeRange) FromValue() string { return tr.From.Format(absoluteLayout) }

// ToValue fills the absolute end input.
func (tr timeRange) ToValue() string { return tr.To.Format(absoluteLayout) }

func (tr timeRange) start() *timestamppb.Timestamp { return timestamppb.New(tr.From) }
func (tr timeRange) end() *timestamppb.Timestamp   { return timestamppb.New(tr.To) }

// picker is what the time picker partial needs.
type picker struct {
	Range   timeRange
	Choices []struct{ Value, Label string }
}

func newPicker(tr timeRange) picker { return picker{Range: tr, Choices: relativeRanges} }
