package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
)

// wfRow is one row of the waterfall: a span, an access event (a hop) or a
// TLS connection, placed on the request's time axis.
type wfRow struct {
	ID      string
	Kind    string
	Hop     string
	Service string
	Name    string
	Depth   int
	// Offset and Width place the bar, in percent of the axis.
	Offset, Width string
	Start         string // offset from the timeline's start, "+2.00ms"
	Dur           string
	Err, Deny     bool
	Span          *taplinev1.Span
	Access        *taplinev1.AccessEvent
	TLS           *taplinev1.TlsConnection
}

// DepthClass indents a span below its parent (capped).
func (r wfRow) DepthClass() string { return "depth-" + strconv.Itoa(min(max(r.Depth, 0), 8)) }

type traceData struct {
	LookedUp  string // "trace" or "request"
	ID        string
	Timeline  *taplinev1.Timeline
	Rows      []wfRow
	Hops      []*taplinev1.Hop
	Ticks     []string
	RawEvents string
	Errors    int64
}

func (s *Server) tracePage(c echo.Context) error {
	id := strings.TrimSpace(c.Param("id"))
	tl, err := s.be.Traces.GetTrace(s.apiContext(c), &taplinev1.GetTraceRequest{TraceId: id})
	if err != nil {
		return apiError(err)
	}
	return s.renderTimeline(c, "trace", id, tl)
}

func (s *Server) requestPage(c echo.Context) error {
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil {
		return &pageError{http.StatusBadRequest, "bad request id"}
	}
	tl, err := s.be.Traces.GetRequest(s.apiContext(c), &taplinev1.GetRequestRequest{RequestId: id})
	if err != nil {
		return apiError(err)
	}
	return s.renderTimeline(c, "request", id, tl)
}

func (s *Server) renderTimeline(c echo.Context, kind, id string, tl *taplinev1.Timeline) error {
	d := traceData{LookedUp: kind, ID: id, Timeline: tl, Hops: tl.GetHops(), Errors: tl.GetErrorCount()}
	start := tl.GetStartTime().AsTime()
	total := tl.GetDuration().AsDuration()
	// The axis covers every entry, also those that start before or end
	// after the spans (a TLS handshake on a kept-alive connection).
	end := start.Add(total)
	for _, e := range tl.GetEntries() {
		t := e.GetTime().AsTime()
		if t.Before(start) {
			start = t
		}
		if te := t.Add(e.GetDuration().AsDuration()); te.After(end) {
			end = te
		}
	}
	axis := end.Sub(start)
	if axis <= 0 {
		axis = time.Microsecond
	}
	for i := 0; i <= 4; i++ {
		d.Ticks = append(d.Ticks, fmtDur(axis*time.Duration(i)/4))
	}
	for i, e := range tl.GetEntries() {
		t := e.GetTime().AsTime()
		dur := e.GetDuration().AsDuration()
		off := float64(t.Sub(start)) / float64(axis) * 100
		w := float64(dur) / float64(axis) * 100
		w = max(w, 0.4)
		if off+w > 100 {
			w = max(100-off, 0.4)
		}
		r := wfRow{
			ID: fmt.Sprintf("e%d", i), Kind: e.GetKind(), Hop: e.GetHop(), Service: e.GetServiceName(),
			Depth:  int(e.GetDepth()),
			Offset: strconv.FormatFloat(off, 'f', 2, 64) + "%", Width: strconv.FormatFloat(w, 'f', 2, 64) + "%",
			Start: "+" + fmtDur(t.Sub(start)), Dur: fmtDur(dur),
		}
		switch {
		case e.GetSpan() != nil:
			sp := e.GetSpan()
			r.Span, r.Name, r.Err = sp, sp.GetName(), sp.GetStatusCode() == "Error"
		case e.GetAccess() != nil:
			a := e.GetAccess()
			r.Access = a
			r.Name = strings.TrimSpace(fmt.Sprintf("%s %s → %d", a.GetMethod(), a.GetPath(), a.GetStatus()))
			r.Err, r.Deny = a.GetStatus() >= 500, a.GetDecision() == event.DecisionDeny
			r.Depth = -1
			if r.Hop == "" {
				r.Hop = a.GetSource()
			}
		case e.GetTls() != nil:
			tc := e.GetTls()
			r.TLS = tc
			r.Depth = -1
			if tc.GetEstablished() {
				r.Name = "TLS handshake " + strings.TrimSpace(tc.GetVersion()+" "+tc.GetCipher())
			} else {
				r.Name = "TLS handshake failed: " + tc.GetFailure()
				r.Err = true
			}
			if r.Hop == "" {
				r.Hop = tc.GetSource()
			}
		}
		d.Rows = append(d.Rows, r)
	}
	// Raw events: the access events of the same request (or trace), in a
	// window around the timeline.
	q := url.Values{"kind": {"events"}}
	timeRange{From: start.Add(-time.Minute).Truncate(time.Minute), To: end.Add(2 * time.Minute).Truncate(time.Minute)}.set(q)
	switch {
	case kind == "request":
		q.Set("request_id", id)
	case len(tl.GetRequestIds()) == 1:
		q.Set("request_id", tl.GetRequestIds()[0])
	default:
		q.Set("trace_id", id)
	}
	d.RawEvents = "/search?" + q.Encode()
	title := "Trace " + shortID(id)
	if kind == "request" {
		title = "Request " + shortID(id)
	}
	return s.render(c, http.StatusOK, "trace", view{Title: title, Section: "search", Data: d})
}
