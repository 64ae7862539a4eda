package ui

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"
)

// Charts are drawn on the server as inline SVG: no script, no style
// attributes (the CSP forbids inline styles; colours come from classes in
// app.css), and a text alternative on each.

const (
	chartW      = 1000.0
	chartH      = 220.0
	chartLeft   = 64.0
	chartRight  = 12.0
	chartTop    = 10.0
	chartBottom = 26.0
)

// scatterPoint is one trace or event in the duration-over-time plot.
type scatterPoint struct {
	T     time.Time
	D     time.Duration
	Err   bool
	Href  string
	Label string
}

// scatterSVG plots durations over [from, to), each point a link.
func scatterSVG(title string, points []scatterPoint, from, to time.Time) template.HTML {
	var maxD time.Duration
	for _, p := range points {
		maxD = max(maxD, p.D)
	}
	top := niceDuration(maxD)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart scatter" viewBox="0 0 %g %g" role="group" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	axes(&b, from, to)
	for i := 0; i <= 4; i++ {
		y := chartH - chartBottom - float64(i)/4*(chartH-chartBottom-chartTop)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, chartLeft, chartW-chartRight, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y+4, html.EscapeString(fmtDur(top*time.Duration(i)/4)))
	}
	// Slow points on top of fast ones, errors on top of all.
	sorted := append([]scatterPoint(nil), points...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Err != sorted[j].Err {
			return !sorted[i].Err
		}
		return false
	})
	for _, p := range sorted {
		x := xOf(p.T, from, to)
		y := chartH - chartBottom - float64(p.D)/float64(top)*(chartH-chartBottom-chartTop)
		cls := "pt"
		if p.Err {
			cls = "pt err"
		}
		fmt.Fprintf(&b, `<a href="%s"><circle class="%s" cx="%.1f" cy="%.1f" r="5"><title>%s</title></circle></a>`,
			html.EscapeString(p.Href), cls, x, y, html.EscapeString(p.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

// series is one value's counts per bucket, for stacked bars.
type series struct {
	Value  string
	Class  string
	Counts map[int64]int64 // bucket start (unix s) → count
	Total  int64
}

// stackedSVG draws columns of stacked counts per bucket.
func stackedSVG(title string, ss []series, from, to time.Time, step time.Duration) template.HTML {
	buckets := map[int64]int64{}
	for _, s := range ss {
		for t, n := range s.Counts {
			buckets[t] += n
		}
	}
	var maxN int64
	for _, n := range buckets {
		maxN = max(maxN, n)
	}
	top := niceCount(maxN)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart stacked" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	axes(&b, from, to)
	for i := 0; i <= 4; i++ {
		y := chartH - chartBottom - float64(i)/4*(chartH-chartBottom-chartTop)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, chartLeft, chartW-chartRight, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y+4, fmtCount(top*int64(i)/4))
	}
	span := to.Sub(from)
	if step <= 0 || span <= 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String()) //nolint:gosec // built from escaped parts
	}
	w := float64(step) / float64(span) * (chartW - chartLeft - chartRight)
	gap := math.Min(2, w/5)
	times := make([]int64, 0, len(buckets))
	for t := range buckets {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, t := range times {
		x := xOf(time.Unix(t, 0), from, to)
		y := chartH - chartBottom
		for _, s := range ss {
			n := s.Counts[t]
			if n == 0 {
				continue
			}
			h := float64(n) / float64(top) * (chartH - chartBottom - chartTop)
			y -= h
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %s</title></rect>`,
				s.Class, x+gap/2, y, math.Max(w-gap, 1), h, html.EscapeString(time.Unix(t, 0).UTC().Format("2006-01-02 15:04")),
				html.EscapeString(s.Value), fmtCount(n))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

// sharePoint is one bucket of a 0–1 share.
type sharePoint struct {
	T     time.Time
	Share float64
	Total int64
}

// shareSVG draws a share over time as a line with dots.
func shareSVG(title string, pts []sharePoint, from, to time.Time) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart share" viewBox="0 0 %g %g" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	axes(&b, from, to)
	for i := 0; i <= 4; i++ {
		y := chartH - chartBottom - float64(i)/4*(chartH-chartBottom-chartTop)
		fmt.Fprintf(&b, `<line class="grid" x1="%g" x2="%g" y1="%.1f" y2="%.1f"/>`, chartLeft, chartW-chartRight, y, y)
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%.1f" text-anchor="end">%d%%</text>`, chartLeft-6, y+4, i*25)
	}
	var line []string
	for _, p := range pts {
		x := xOf(p.T, from, to)
		y := chartH - chartBottom - p.Share*(chartH-chartBottom-chartTop)
		line = append(line, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	if len(line) > 1 {
		fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(line, " "))
	}
	for i, p := range pts {
		xy := strings.Split(line[i], ",")
		fmt.Fprintf(&b, `<circle class="dot" cx="%s" cy="%s" r="4"><title>%s: %.1f%% of %s</title></circle>`, xy[0], xy[1],
			html.EscapeString(p.T.UTC().Format("2006-01-02 15:04")), p.Share*100, fmtCount(p.Total))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

// axes draws the x axis with five time labels.
func axes(b *strings.Builder, from, to time.Time) {
	y := chartH - chartBottom
	fmt.Fprintf(b, `<line class="axis" x1="%g" x2="%g" y1="%g" y2="%g"/>`, chartLeft, chartW-chartRight, y, y)
	layout := "15:04"
	if to.Sub(from) > 36*time.Hour {
		layout = "Jan 2 15:04"
	}
	for i := 0; i <= 4; i++ {
		t := from.Add(to.Sub(from) * time.Duration(i) / 4)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%g" text-anchor="%s">%s</text>`, xOf(t, from, to), chartH-8, anchor, html.EscapeString(t.UTC().Format(layout)))
	}
}

func xOf(t, from, to time.Time) float64 {
	span := to.Sub(from)
	if span <= 0 {
		return chartLeft
	}
	f := float64(t.Sub(from)) / float64(span)
	f = math.Max(0, math.Min(1, f))
	return chartLeft + f*(chartW-chartLeft-chartRight)
}

// niceDuration rounds a maximum up to 1, 2 or 5 times a power of ten.
func niceDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Millisecond
	}
	p := time.Duration(1)
	for p*10 <= d {
		p *= 10
	}
	for _, m := range []time.Duration{1, 2, 4, 5, 10} {
		if m*p >= d {
			return m * p
		}
	}
	return 10 * p
}

func niceCount(n int64) int64 {
	// 1, 2, 4 or 8 times a power of ten, divisible by four so that the
	// quarter grid lines fall on whole numbers.
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 4, 8} {
			if c := m * p; c%4 == 0 && c >= n {
				return c
			}
		}
		if p > math.MaxInt64/100 {
			return n
		}
	}
}
