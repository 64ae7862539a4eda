package render_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/render"
	"github.com/tapline/tapline/compliance/report"
)

func sample() *report.Report {
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	r := &report.Report{
		Format: report.FormatVersion, RunID: "soc2-test", Scope: report.Scope{Name: "test <scope>", Services: []string{"orders", "pay*"}},
		Framework:   report.Framework{ID: "soc2", Name: "SOC 2", Version: "TSC 2017"},
		Period:      report.Period{From: from, To: from.Add(24 * time.Hour)},
		GeneratedAt: from.Add(25 * time.Hour), Generator: report.Generator{Name: "Tapline", Version: "test"},
		Trigger: "manual", Seed: 7, Samples: 2,
		Controls: []report.ControlResult{{ID: "CC6.6", Title: "Boundary", Description: "d", Checks: []string{"allowed_flows"}}},
		Checks: []report.CheckResult{{
			ID: "allowed_flows", Number: 11, Title: "Flows", Controls: []string{"CC6.6"}, PopulationLabel: "requests",
			Population: 10, Result: report.Fail, PerDay: true, Message: "1 exception",
			Days: []report.DayResult{{Day: "2025-03-01", Result: report.Fail, Population: 10, Exceptions: 1}},
			Exceptions: []report.Exception{
				{Day: "2025-03-01", Subject: `<script>alert("x")</script> -> payments`, Severity: report.SeverityFail, Items: 1, Detail: "a,b\nc"},
				{Day: "2025-03-01", Subject: "ok -> orders", Severity: report.SeverityFail, Items: 2, Detail: "w",
					Waiver: &report.WaiverRef{ID: "W-1", Justification: "migration", Approver: "ciso", Expires: from.AddDate(0, 1, 0)}},
			},
			Samples: []report.Sample{{Day: "2025-03-01", Subject: "s", Time: from.Add(time.Hour), RequestID: "r1",
				RequestURL: "https://ui/request/r1", Detail: "GET /x Ünïcödé ✓"}},
			Queries: []report.Query{{Name: "exceptions", SQL: "SELECT 1 WHERE x = {x:String}"}},
			Params:  []report.Param{{Name: "x", Value: "it's"}},
		}},
	}
	r.Finish()
	return r
}

func TestOutputsAreDeterministic(t *testing.T) {
	for _, rd := range render.All() {
		a, err := rd.Render(sample())
		require.NoError(t, err, rd.Name)
		b, err := rd.Render(sample())
		require.NoError(t, err, rd.Name)
		require.True(t, bytes.Equal(a, b), "%s differs between two renderings of one report", rd.Name)
		require.NotEmpty(t, a, rd.Name)
	}
}

func TestHTMLEscapesAndShowsWaivers(t *testing.T) {
	b, err := render.HTML(sample())
	require.NoError(t, err)
	html := string(b)
	require.NotContains(t, html, "<script>alert")
	require.Contains(t, html, "&lt;script&gt;")
	require.Contains(t, html, "waived</span> by W-1")
	require.Contains(t, html, `href="https://ui/request/r1"`)
	require.Contains(t, html, "{x:String}")
}

func TestCSV(t *testing.T) {
	b, err := render.ExceptionsCSV(sample())
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, "a,b\nc", rows[1][7], "fields with commas and newlines survive")
	require.Equal(t, "W-1", rows[2][8])
	b, err = render.PopulationsCSV(sample())
	require.NoError(t, err)
	require.Contains(t, string(b), "allowed_flows,CC6.6,requests,2025-03-01,fail,10,1,0")
}

func TestOSCALShape(t *testing.T) {
	b, err := render.OSCAL(sample())
	require.NoError(t, err)
	var doc struct {
		AR struct {
			UUID     string `json:"uuid"`
			Metadata struct {
				OSCALVersion string `json:"oscal-version"`
			} `json:"metadata"`
			Results []struct {
				Findings []struct {
					Target struct {
						TargetID string                 `json:"target-id"`
						Status   struct{ State string } `json:"status"`
					} `json:"target"`
				} `json:"findings"`
			} `json:"results"`
		} `json:"assessment-results"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, "1.0.4", doc.AR.Metadata.OSCALVersion)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, doc.AR.UUID)
	f := doc.AR.Results[0].Findings[0]
	require.Equal(t, "cc6.6_obj", f.Target.TargetID)
	require.Equal(t, "not-satisfied", f.Target.Status.State)
}

func TestPDFStartsAsPDF(t *testing.T) {
	b, err := render.PDF(sample())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "%PDF-"))
}

// TestScopeInEveryOutput: every file of the bundle says what the report
// covers (the PDF is compressed, so it is read with pdftotext where
// Debian's poppler-utils is installed).
func TestScopeInEveryOutput(t *testing.T) {
	const want = "orders, pay*"
	for _, rd := range render.All() {
		t.Run(rd.Name, func(t *testing.T) {
			b, err := rd.Render(sample())
			require.NoError(t, err)
			text := string(b)
			if rd.Name == render.FilePDF {
				text = pdfText(t, b)
			}
			if rd.Name == render.FileJSON {
				var r report.Report
				require.NoError(t, json.Unmarshal(b, &r))
				require.Equal(t, []string{"orders", "pay*"}, r.Scope.Services)
				return
			}
			require.Contains(t, text, want)
		})
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) is missing")
		}
		t.Skip("pdftotext (Debian poppler-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "r.pdf")
	require.NoError(t, os.WriteFile(path, pdf, 0o644))
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	require.NoError(t, err)
	return string(out)
}
