package ui

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/report"
)

type controlRow struct {
	ID, Title  string
	Checks     []string
	Result     string
	Exceptions uint64
	Waived     uint64
}

type frameworkView struct {
	ID, Name, Version string
	RunID             string
	Controls          []controlRow
	Counts            []resultCount
}

type resultCount struct {
	Result string
	N      int
}

type runRow struct {
	compliance.RunInfo
	Files []string
}

type complianceData struct {
	Available  bool
	Frameworks []frameworkView
	Runs       []runRow
	Running    string
	DefFrom    string
	DefTo      string
	Started    string
}

func (s *Server) compliancePage(c echo.Context) error {
	d := complianceData{}
	comp := s.opts.Compliance
	if comp == nil {
		return s.render(c, http.StatusOK, "compliance", view{Title: "Compliance", Section: "compliance", Data: d})
	}
	d.Available = true
	ctx := c.Request().Context()
	latest, err := comp.LatestControls(ctx)
	if err != nil {
		return err
	}
	status := map[string]ControlStatus{}
	for _, cs := range latest {
		status[cs.Framework+"\x00"+cs.Control] = cs
	}
	for _, fw := range comp.Frameworks() {
		fv := frameworkView{ID: fw.ID, Name: fw.Name, Version: fw.Version}
		counts := map[string]int{}
		for _, ctl := range fw.Controls {
			row := controlRow{ID: ctl.ID, Title: ctl.Title, Checks: ctl.Checks, Result: "not run"}
			if cs, ok := status[fw.ID+"\x00"+ctl.ID]; ok {
				row.Result, row.Exceptions, row.Waived = string(cs.Result), cs.Exceptions, cs.Waived
				fv.RunID = cs.RunID
			}
			counts[row.Result]++
			fv.Controls = append(fv.Controls, row)
		}
		for _, r := range append(report.Results(), "not run") {
			if n := counts[string(r)]; n > 0 {
				fv.Counts = append(fv.Counts, resultCount{string(r), n})
			}
		}
		d.Frameworks = append(d.Frameworks, fv)
	}
	runs, err := comp.Runs(ctx, 50)
	if err != nil {
		return err
	}
	for _, r := range runs {
		row := runRow{RunInfo: r}
		if r.Status == compliance.StatusDone {
			row.Files = BundleFiles
		}
		d.Runs = append(d.Runs, row)
	}
	d.Running = comp.Running()
	d.Started = c.QueryParam("started")
	today := s.now().Truncate(24 * time.Hour)
	d.DefFrom, d.DefTo = today.AddDate(0, 0, -1).Format(time.DateOnly), today.Format(time.DateOnly)
	return s.render(c, http.StatusOK, "compliance", view{Title: "Compliance", Section: "compliance", Data: d})
}

// complianceRun starts a report ("run now"): auditors and admins only.
func (s *Server) complianceRun(c echo.Context) error {
	u, _ := c.Get(ctxUser).(*user)
	if u == nil || !u.CanAudit() {
		return &pageError{http.StatusForbidden, "running a report needs the auditor or admin role"}
	}
	comp := s.opts.Compliance
	if comp == nil {
		return &pageError{http.StatusNotFound, errNoCompliance.Error()}
	}
	from, err := time.Parse(time.DateOnly, c.FormValue("from"))
	if err != nil {
		return &pageError{http.StatusBadRequest, "the period's first day must be a date (YYYY-MM-DD)"}
	}
	to, err := time.Parse(time.DateOnly, c.FormValue("to"))
	if err != nil {
		return &pageError{http.StatusBadRequest, "the period's end must be a date (YYYY-MM-DD)"}
	}
	if !from.Before(to) || to.Sub(from) > 366*24*time.Hour {
		return &pageError{http.StatusBadRequest, "the period must start before it ends and span at most 366 days"}
	}
	id, err := comp.Start(c.FormValue("framework"), from, to, u.Principal())
	switch {
	case errors.Is(err, ErrRunInProgress):
		return &pageError{http.StatusConflict, "a report is already running: wait for it to finish"}
	case err != nil:
		return &pageError{http.StatusBadRequest, err.Error()}
	}
	return c.Redirect(http.StatusSeeOther, "/compliance?started="+urlQueryEscape(id))
}

// complianceFile serves one file of a finished run's bundle to auditors.
func (s *Server) complianceFile(c echo.Context) error {
	u, _ := c.Get(ctxUser).(*user)
	if u == nil || !u.CanAudit() {
		return &pageError{http.StatusForbidden, "report files need the auditor or admin role"}
	}
	comp := s.opts.Compliance
	if comp == nil {
		return &pageError{http.StatusNotFound, errNoCompliance.Error()}
	}
	name := c.Param("file")
	f, err := comp.Open(c.Request().Context(), c.Param("id"), name)
	if errors.Is(err, ErrNoSuchFile) {
		return &pageError{http.StatusNotFound, "no such file in that run"}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if strings.HasSuffix(name, ".sig") || ctype == "" {
		ctype = "application/octet-stream"
	}
	h := c.Response().Header()
	h.Set("Content-Type", ctype)
	// Reports open as downloads, never as pages of this origin.
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": c.Param("id") + "-" + name}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}
