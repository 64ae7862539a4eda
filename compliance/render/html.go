package render

import (
	"bytes"
	_ "embed"
	"html/template"
	"strings"
	"time"

	"github.com/tapline/tapline/compliance/report"
)

//go:embed report.html.tmpl
var htmlTemplate string

// MaxRows caps the exceptions and samples per check that the HTML and PDF
// show; the CSV and JSON files hold them all.
const MaxRows = 200

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":   func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"ts":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"tsn":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") },
	"upper": func(r report.Result) string { return strings.ToUpper(string(r)) },
	"check": func(r *report.Report, id string) *report.CheckResult { return r.Check(id) },
	"limitE": func(es []report.Exception, n int) []report.Exception {
		return es[:min(n, len(es))]
	},
	"limitS": func(ss []report.Sample, n int) []report.Sample {
		return ss[:min(n, len(ss))]
	},
}).Parse(htmlTemplate))

// HTML is the report as one self-contained HTML page (no scripts, no
// external resources).
func HTML(r *report.Report) ([]byte, error) {
	var buf bytes.Buffer
	err := htmlTmpl.Execute(&buf, struct {
		R   *report.Report
		Max int
	}{r, MaxRows})
	return buf.Bytes(), err
}
