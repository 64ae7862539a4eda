package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
)

// RunReport starts a compliance report over the UTC days [from, to) the way
// an auditor does in the UI ("Run now"), waits for it and returns its
// report.json.
func (s *Stack) RunReport(ctx context.Context, framework string, from, to time.Time) (*report.Report, error) {
	form := url.Values{
		"framework": {framework},
		"from":      {from.UTC().Format(time.DateOnly)},
		"to":        {to.UTC().Format(time.DateOnly)},
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		// The answer is a redirect naming the run: read it, do not follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.UIURL+"/compliance/run", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("run report: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("run report: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("run report: %w", err)
	}
	runID := loc.Query().Get("started")
	if runID == "" {
		return nil, fmt.Errorf("run report: no run id in %q", resp.Header.Get("Location"))
	}
	// The bundle's files are served once the run is done.
	fileURL := s.UIURL + "/compliance/runs/" + url.PathEscape(runID) + "/report.json"
	for {
		rep, done, err := s.fetchReport(ctx, client, fileURL)
		if done {
			return rep, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("report %s: %w", runID, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// fetchReport reads report.json; done is false while the run is not
// finished.
func (s *Stack) fetchReport(ctx context.Context, client *http.Client, fileURL string) (*report.Report, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fileURL, nil)
	if err != nil {
		return nil, true, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, ctx.Err() != nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, nil
	}
	var rep report.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return nil, true, fmt.Errorf("report.json: %w", err)
	}
	return &rep, true, nil
}
