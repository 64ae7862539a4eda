package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
)

// Renderer produces one file of the bundle.
type Renderer struct {
	Name   string
	Render func(r *report.Report) ([]byte, error)
}

// All lists the bundle's files in the order they are written.
func All() []Renderer {
	return []Renderer{
		{FileJSON, JSON},
		{FileHTML, HTML},
		{FilePDF, PDF},
		{FileExceptions, ExceptionsCSV},
		{FilePopulations, PopulationsCSV},
		{FileSamples, SamplesCSV},
		{FileOSCAL, OSCAL},
	}
}

// WriteAll renders every file into dir (which must exist) with mode 0644
// and returns their names.
func WriteAll(dir string, r *report.Report) ([]string, error) {
	var names []string
	for _, rd := range All() {
		b, err := rd.Render(r)
		if err != nil {
			return names, fmt.Errorf("render %s: %w", rd.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, rd.Name), b, 0o644); err != nil {
			return names, fmt.Errorf("write %s: %w", rd.Name, err)
		}
		names = append(names, rd.Name)
	}
	return names, nil
}

// JSON is the report as indented JSON.
func JSON(r *report.Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeCSV(rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func controlsOf(c *report.CheckResult) string { return strings.Join(c.Controls, " ") }

// ExceptionsCSV lists every exception, waived ones with their waiver.
func ExceptionsCSV(r *report.Report) ([]byte, error) {
	rows := [][]string{{"framework", "check", "controls", "day", "subject", "severity", "items", "detail",
		"waiver_id", "waiver_approver", "waiver_expires", "waiver_justification", "scope"}}
	for i := range r.Checks {
		c := &r.Checks[i]
		for _, e := range c.Exceptions {
			row := []string{r.Framework.ID, c.ID, controlsOf(c), e.Day, e.Subject, string(e.Severity),
				strconv.FormatUint(e.Items, 10), e.Detail, "", "", "", "", r.Scope.String()}
			if w := e.Waiver; w != nil {
				row[8], row[9], row[10], row[11] = w.ID, w.Approver, w.Expires.UTC().Format(time.RFC3339), w.Justification
			}
			rows = append(rows, row)
		}
	}
	return writeCSV(rows)
}

// PopulationsCSV lists each check's population and result per day.
func PopulationsCSV(r *report.Report) ([]byte, error) {
	rows := [][]string{{"framework", "check", "controls", "population", "day", "result", "population_count",
		"exceptions", "waived", "message", "scope"}}
	for i := range r.Checks {
		c := &r.Checks[i]
		for _, d := range c.Days {
			rows = append(rows, []string{r.Framework.ID, c.ID, controlsOf(c), c.PopulationLabel, d.Day, string(d.Result),
				strconv.FormatUint(d.Population, 10), strconv.Itoa(d.Exceptions), strconv.Itoa(d.Waived), d.Message, r.Scope.String()})
		}
	}
	return writeCSV(rows)
}

// SamplesCSV lists every sample with its UI links.
func SamplesCSV(r *report.Report) ([]byte, error) {
	rows := [][]string{{"framework", "check", "day", "subject", "time", "trace_id", "request_id", "detail", "trace_url", "request_url", "scope"}}
	for i := range r.Checks {
		c := &r.Checks[i]
		for _, s := range c.Samples {
			rows = append(rows, []string{r.Framework.ID, c.ID, s.Day, s.Subject, s.Time.UTC().Format(time.RFC3339Nano),
				s.TraceID, s.RequestID, s.Detail, s.TraceURL, s.RequestURL, r.Scope.String()})
		}
	}
	return writeCSV(rows)
}
