package ui

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
)

type chainRow struct {
	C *taplinev1.LedgerChain
	// PerSecond is the chain's messages per second over the window.
	PerSecond string
	Rows      []kv
	Broken    bool
}

type pipelineData struct {
	Picker    picker
	Health    *taplinev1.PipelineHealth
	Chains    []chainRow
	Messages  int64
	PerSecond string
	FormError string
	Endpoints Endpoints
}

func (s *Server) pipelinePage(c echo.Context) error {
	q := c.QueryParams()
	d := pipelineData{Endpoints: s.opts.Endpoints}
	tr, err := parseRange(q, s.now(), "1h")
	if err != nil {
		tr, _ = parseRange(url.Values{}, s.now(), "1h")
		d.FormError = err.Error()
	}
	d.Picker = newPicker(tr)
	if d.FormError != "" {
		return s.render(c, http.StatusBadRequest, "pipeline", view{Title: "Pipeline", Section: "pipeline", Data: d})
	}
	h, err := s.be.Pipeline.GetPipelineHealth(s.apiContext(c), &taplinev1.GetPipelineHealthRequest{StartTime: tr.start(), EndTime: tr.end()})
	if err != nil {
		return apiError(err)
	}
	d.Health = h
	secs := h.GetEndTime().AsTime().Sub(h.GetStartTime().AsTime()).Seconds()
	for _, ch := range h.GetChains() {
		r := chainRow{C: ch, Broken: ch.GetBatchGaps() > 0 || ch.GetHashBreaks() > 0 || ch.GetSequenceOverlaps() > 0}
		if secs > 0 {
			r.PerSecond = trimFloat(float64(ch.GetMessages()) / secs)
		}
		for k, v := range ch.GetRowsByTable() {
			r.Rows = append(r.Rows, kvOf(k, v))
		}
		sortKV(r.Rows)
		d.Messages += ch.GetMessages()
		d.Chains = append(d.Chains, r)
	}
	if secs > 0 {
		d.PerSecond = trimFloat(float64(d.Messages) / secs)
	}
	return s.render(c, http.StatusOK, "pipeline", view{Title: "Pipeline", Section: "pipeline", Data: d})
}
