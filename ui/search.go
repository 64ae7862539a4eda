package ui

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/types/known/durationpb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/query"
)

// searchForm is the search page's state, read from and written to the URL.
type searchForm struct {
	Kind string // "traces" or "events"
	// Trace filters.
	Service, Span      string
	Attrs              []string
	Errors             bool
	MinDur, MaxDur     string
	Principal, Request string
	// Event filters (Service, Principal and Request are shared).
	Sources     []string
	StatusClass string
	Method      string
	PathPrefix  string
	Decision    string
	TLSVersion  string
	TraceID     string

	Limit  int
	Cursor string
}

func (f searchForm) filtered() bool {
	return f.Service != "" || f.Span != "" || len(f.Attrs) > 0 || f.Errors || f.MinDur != "" || f.MaxDur != "" ||
		f.Principal != "" || f.Request != "" || len(f.Sources) > 0 || f.StatusClass != "" || f.Method != "" ||
		f.PathPrefix != "" || f.Decision != "" || f.TLSVersion != "" || f.TraceID != ""
}

// HasSource tells the form which source boxes to tick.
func (f searchForm) HasSource(s string) bool { return slices.Contains(f.Sources, s) }

// AttrInputs are the attribute filter inputs: the filters given and one
// empty input for another.
func (f searchForm) AttrInputs() []string { return append(slices.Clone(f.Attrs), "") }

// Choices for the event filters.
var (
	eventSources  = []string{event.SourceNginx, event.SourceMesh, event.SourceTap, event.SourceApp, event.SourceAPI}
	statusClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}
	decisions     = []string{event.DecisionAllow, event.DecisionDeny, event.DecisionObserve}
	tlsVersions   = []string{"1.3", "1.2", "1.1", "1.0", "none"}
	limits        = []int{20, 50, 100, 500}
	// defaultSources are the hops searched when none is ticked.
	defaultSources = []string{event.SourceNginx, event.SourceMesh, event.SourceTap, event.SourceApp}
)

func readSearchForm(q url.Values) searchForm {
	f := searchForm{
		Kind:    q.Get("kind"),
		Service: strings.TrimSpace(q.Get("service")), Span: strings.TrimSpace(q.Get("span")),
		Errors: q.Get("errors") != "", MinDur: strings.TrimSpace(q.Get("min")), MaxDur: strings.TrimSpace(q.Get("max")),
		Principal: strings.TrimSpace(q.Get("principal")), Request: strings.TrimSpace(q.Get("request_id")),
		StatusClass: q.Get("status"), Method: strings.ToUpper(strings.TrimSpace(q.Get("method"))),
		PathPrefix: strings.TrimSpace(q.Get("path")), Decision: q.Get("decision"), TLSVersion: q.Get("tls"),
		TraceID: strings.TrimSpace(q.Get("trace_id")), Cursor: q.Get("cursor"),
	}
	if f.Kind != "events" {
		f.Kind = "traces"
	}
	for _, a := range q["attr"] {
		if a = strings.TrimSpace(a); a != "" {
			f.Attrs = append(f.Attrs, a)
		}
	}
	for _, s := range q["source"] {
		if slices.Contains(eventSources, s) && !slices.Contains(f.Sources, s) {
			f.Sources = append(f.Sources, s)
		}
	}
	f.Limit, _ = strconv.Atoi(q.Get("limit"))
	return f
}

// values writes the form back into URL parameters (the shareable state).
func (f searchForm) values(tr timeRange) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("kind", f.Kind)
	tr.set(q)
	set("service", f.Service)
	set("principal", f.Principal)
	set("request_id", f.Request)
	if f.Kind == "traces" {
		set("span", f.Span)
		for _, a := range f.Attrs {
			q.Add("attr", a)
		}
		if f.Errors {
			q.Set("errors", "1")
		}
		set("min", f.MinDur)
		set("max", f.MaxDur)
	} else {
		for _, s := range f.Sources {
			q.Add("source", s)
		}
		set("status", f.StatusClass)
		set("method", f.Method)
		set("path", f.PathPrefix)
		set("decision", f.Decision)
		set("tls", f.TLSVersion)
		set("trace_id", f.TraceID)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

type searchData struct {
	Form        searchForm
	Picker      picker
	Services    []string
	Operations  []string
	Traces      []*taplinev1.TraceSummary
	Events      []*taplinev1.AccessEvent
	Plot        template.HTML
	NextURL     string
	FirstURL    string
	FormError   string
	Onboarding  bool
	Endpoints   Endpoints
	Sources     []string
	Statuses    []string
	Decisions   []string
	TLSVersions []string
	Limits      []int
	Count       int
	// TracesURL and EventsURL switch between the tabs with the shared
	// filters and the time range kept.
	TracesURL, EventsURL string
}

func (s *Server) searchPage(c echo.Context) error {
	q := c.QueryParams()
	f := readSearchForm(q)
	d := searchData{
		Form: f, Endpoints: s.opts.Endpoints, Sources: eventSources, Statuses: statusClasses,
		Decisions: decisions, TLSVersions: tlsVersions, Limits: limits,
	}
	tr, err := parseRange(q, s.now(), "1h")
	if err != nil {
		tr, _ = parseRange(url.Values{}, s.now(), "1h")
		d.FormError = err.Error()
	}
	d.Picker = newPicker(tr)
	tabs := f
	tabs.Cursor = ""
	tabs.Kind = "traces"
	d.TracesURL = "/search?" + tabs.values(tr).Encode()
	tabs.Kind = "events"
	d.EventsURL = "/search?" + tabs.values(tr).Encode()

	ctx := s.apiContext(c)
	dataArrived := false
	svc, err := s.be.Traces.ListServices(ctx, &taplinev1.ListServicesRequest{StartTime: tr.start(), EndTime: tr.end()})
	if err == nil {
		for _, sv := range svc.GetServices() {
			d.Services = append(d.Services, sv.GetName())
			if sv.GetSpanCount() > 0 || sv.GetName() != s.opts.APIService {
				dataArrived = true
			}
		}
	} else if pe := apiError(err); pe.code == http.StatusUnauthorized || pe.code == http.StatusForbidden {
		return pe
	}
	if f.Service != "" && f.Kind == "traces" {
		if ops, err := s.be.Traces.ListOperations(ctx, &taplinev1.ListOperationsRequest{
			ServiceName: f.Service, StartTime: tr.start(), EndTime: tr.end(),
		}); err == nil {
			for _, op := range ops.GetOperations() {
				if !slices.Contains(d.Operations, op.GetName()) {
					d.Operations = append(d.Operations, op.GetName())
				}
			}
		}
	}

	code := http.StatusOK
	if d.FormError == "" {
		next := ""
		var err error
		if f.Kind == "traces" {
			next, err = s.searchTraces(c, f, tr, &d)
		} else {
			next, err = s.searchEvents(c, f, tr, &d)
		}
		if err != nil {
			var pe *pageError
			if !errors.As(err, &pe) {
				pe = apiError(err)
			}
			if pe.code == http.StatusUnauthorized || pe.code == http.StatusForbidden || pe.code >= 500 && pe.code != http.StatusGatewayTimeout && pe.code != http.StatusServiceUnavailable {
				return pe
			}
			code, d.FormError = pe.code, pe.msg
		}
		if next != "" {
			nq := f.values(tr)
			nq.Set("cursor", next)
			d.NextURL = "/search?" + nq.Encode()
		}
		if f.Cursor != "" {
			d.FirstURL = "/search?" + f.values(tr).Encode()
		}
	} else {
		code = http.StatusBadRequest
	}
	d.Onboarding = d.FormError == "" && d.Count == 0 && f.Cursor == "" && !f.filtered() && !dataArrived
	title := "Search traces"
	if f.Kind == "events" {
		title = "Search access events"
	}
	return s.render(c, code, "search", view{Title: title, Section: "search", Data: d})
}

func (s *Server) searchTraces(c echo.Context, f searchForm, tr timeRange, d *searchData) (string, error) {
	req := &taplinev1.SearchTracesRequest{
		ServiceName: f.Service, SpanName: f.Span, Attributes: f.Attrs, ErrorsOnly: f.Errors,
		StartTime: tr.start(), EndTime: tr.end(), Principal: f.Principal, RequestId: f.Request,
		Limit: int32(f.Limit), Cursor: f.Cursor,
	}
	for _, a := range f.Attrs {
		if _, err := query.ParseAttrFilter(a); err != nil {
			return "", &pageError{http.StatusBadRequest, fmt.Sprintf("attribute filter %q: %v", a, err)}
		}
	}
	var err error
	if req.MinDuration, err = durationParam("minimum duration", f.MinDur); err != nil {
		return "", err
	}
	if req.MaxDuration, err = durationParam("maximum duration", f.MaxDur); err != nil {
		return "", err
	}
	resp, err := s.be.Traces.SearchTraces(s.apiContext(c), req)
	if err != nil {
		return "", err
	}
	d.Traces = resp.GetTraces()
	d.Count = len(d.Traces)
	pts := make([]scatterPoint, 0, len(d.Traces))
	for _, t := range d.Traces {
		pts = append(pts, scatterPoint{
			T: t.GetStartTime().AsTime(), D: t.GetDuration().AsDuration(), Err: t.GetErrorCount() > 0,
			Href: "/trace/" + t.GetTraceId(),
			Label: fmt.Sprintf("%s %s: %s, %s", t.GetRootServiceName(), t.GetRootSpanName(), fmtDur(t.GetDuration().AsDuration()),
				plural(t.GetErrorCount(), "error", "errors")),
		})
	}
	if len(pts) > 0 {
		d.Plot = scatterSVG(fmt.Sprintf("Duration over time of the %d traces on this page", len(pts)), pts, tr.From, tr.To)
	}
	return resp.GetNextCursor(), nil
}

func (s *Server) searchEvents(c echo.Context, f searchForm, tr timeRange, d *searchData) (string, error) {
	// The API's own records (source api, the UI's page views among them)
	// show only when asked for.
	sources := f.Sources
	if len(sources) == 0 {
		sources = defaultSources
	}
	req := &taplinev1.SearchEventsRequest{
		Sources: sources, ServiceName: f.Service, Principal: f.Principal, StatusClass: f.StatusClass,
		Method: f.Method, PathPrefix: f.PathPrefix, Decision: f.Decision, TlsVersion: f.TLSVersion,
		RequestId: f.Request, TraceId: f.TraceID, StartTime: tr.start(), EndTime: tr.end(),
		Limit: int32(f.Limit), Cursor: f.Cursor,
	}
	resp, err := s.be.Events.SearchEvents(s.apiContext(c), req)
	if err != nil {
		return "", err
	}
	d.Events = resp.GetEvents()
	d.Count = len(d.Events)
	pts := make([]scatterPoint, 0, len(d.Events))
	for _, e := range d.Events {
		pts = append(pts, scatterPoint{
			T: e.GetTime().AsTime(), D: e.GetDuration().AsDuration(), Err: e.GetStatus() >= 500 || e.GetDecision() == event.DecisionDeny,
			Href:  eventHref(e),
			Label: fmt.Sprintf("%s %s %s %s → %d in %s", e.GetSource(), e.GetServiceName(), e.GetMethod(), e.GetPath(), e.GetStatus(), fmtDur(e.GetDuration().AsDuration())),
		})
	}
	if len(pts) > 0 {
		d.Plot = scatterSVG(fmt.Sprintf("Duration over time of the %d access events on this page", len(pts)), pts, tr.From, tr.To)
	}
	return resp.GetNextCursor(), nil
}

// eventHref links an access event to its request's timeline.
func eventHref(e *taplinev1.AccessEvent) string {
	switch {
	case e.GetRequestId() != "":
		return "/request/" + url.PathEscape(e.GetRequestId())
	case e.GetTraceId() != "":
		return "/trace/" + url.PathEscape(e.GetTraceId())
	}
	return ""
}

// durationParam reads a duration filter: Go syntax ("250ms", "1.5s") or a
// bare number of milliseconds.
func durationParam(what, s string) (*durationpb.Duration, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		ms, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return nil, &pageError{http.StatusBadRequest, fmt.Sprintf("%s: %q is not a duration such as 250ms or 1.5s", what, s)}
		}
		d = time.Duration(ms * float64(time.Millisecond))
	}
	if d < 0 {
		return nil, &pageError{http.StatusBadRequest, what + " must not be negative"}
	}
	return durationpb.New(d), nil
}
