package render

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/tapline/tapline/compliance/report"
)

// PDF is the report as a PDF document rendered in Go with the standard
// Helvetica and Courier fonts, so its text can be extracted (pdftotext).
// Characters outside Windows-1252 are shown as '?'.
func PDF(r *report.Report) ([]byte, error) {
	p := &pdfDoc{f: fpdf.New("P", "mm", "A4", "")}
	f := p.f
	f.SetCreationDate(r.GeneratedAt.UTC())
	f.SetModificationDate(r.GeneratedAt.UTC())
	f.SetCatalogSort(true)
	f.SetTitle(fmt.Sprintf("%s evidence report %s", r.Framework.Name, r.RunID), true)
	f.SetCreator(r.Generator.Name+" "+r.Generator.Version, true)
	f.SetAutoPageBreak(true, 15)
	f.SetMargins(15, 15, 15)
	p.tr = f.UnicodeTranslatorFromDescriptor("")
	f.AliasNbPages("")
	f.SetFooterFunc(func() {
		f.SetY(-12)
		f.SetFont("Helvetica", "", 8)
		f.SetTextColor(90, 90, 90)
		f.CellFormat(0, 5, p.tr(fmt.Sprintf("%s %s, %s - page %d of {nb}", r.Framework.Name, day(r.Period.From), r.RunID, f.PageNo())), "", 0, "C", false, 0, "")
	})
	f.AddPage()

	p.heading(1, r.Framework.Name+" evidence report")
	p.kv("Framework", r.Framework.Name+" ("+r.Framework.Version+")")
	p.kv("Period", fmt.Sprintf("%s to %s UTC (end excluded)", stamp(r.Period.From), stamp(r.Period.To)))
	scope := r.Scope.String()
	if !r.Scope.All() {
		scope += "; every check reads only these (the ingest ledger has no service and is read whole)"
	}
	p.kv("Scope", scope)
	p.kvResult("Overall result", r.Result)
	trigger := r.Trigger
	if r.Schedule != "" {
		trigger += ", schedule " + r.Schedule
	}
	p.kv("Run", r.RunID+" ("+trigger+")")
	p.kv("Generated", stamp(r.GeneratedAt)+" UTC by "+r.Generator.Name+" "+r.Generator.Version)
	p.kv("Samples", fmt.Sprintf("up to %d per exception, chosen by seed %d", r.Samples, r.Seed))
	p.para("Results: pass (data present, no exception); waived (every exception covered by a waiver in force); warn (warnings only); " +
		"error (could not be assessed: no data, a failed query or missing configuration; never a pass); fail (an exception not waived). " +
		"A control takes the worst result of its checks.")

	p.heading(2, "Summary")
	p.row([]float64{22, 118, 40}, []string{"Control", "Title", "Result"}, true)
	for _, c := range r.Controls {
		p.resultRow([]float64{22, 118, 40}, []string{c.ID, c.Title, string(c.Result)}, 2, c.Result)
	}
	var counts []string
	for _, res := range report.Results() {
		if n := r.Summary.Checks[res]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, res))
		}
	}
	p.para(fmt.Sprintf("Checks: %s. Exceptions: %d open, %d waived.", strings.Join(counts, ", "), r.Summary.Exceptions, r.Summary.WaivedExceptions))

	p.heading(2, "Controls")
	for _, c := range r.Controls {
		p.heading(3, fmt.Sprintf("%s %s - %s", c.ID, c.Title, strings.ToUpper(string(c.Result))))
		p.para(c.Description)
		for _, id := range c.Checks {
			if ch := r.Check(id); ch != nil {
				p.bullet(fmt.Sprintf("Check %d %s: %s (population %d). %s", ch.Number, ch.Title, ch.Result, ch.Population, ch.Message))
			}
		}
	}

	p.heading(2, "Checks")
	for i := range r.Checks {
		c := &r.Checks[i]
		p.heading(3, fmt.Sprintf("Check %d: %s - %s", c.Number, c.Title, strings.ToUpper(string(c.Result))))
		p.kv("Id", c.ID)
		p.kv("Controls", strings.Join(c.Controls, ", "))
		p.kv("Population", fmt.Sprintf("%s: %d", c.PopulationLabel, c.Population))
		p.kv("Method", c.Method)
		p.kv("Outcome", c.Message)
		widths := []float64{26, 20, 28, 24, 18, 64}
		p.row(widths, []string{"Day (UTC)", "Result", "Population", "Exceptions", "Waived", "Note"}, true)
		for _, d := range c.Days {
			p.resultRow(widths, []string{d.Day, string(d.Result), fmt.Sprint(d.Population), fmt.Sprint(d.Exceptions), fmt.Sprint(d.Waived), d.Message}, 1, d.Result)
		}
		if len(c.Exceptions) > 0 {
			p.label(fmt.Sprintf("Exceptions (%d)%s", len(c.Exceptions), capNote(len(c.Exceptions), "exceptions.csv")))
			for _, e := range c.Exceptions[:min(len(c.Exceptions), MaxRows)] {
				line := fmt.Sprintf("%s  %s  %s - %d items: %s", e.Day, strings.ToUpper(string(e.Severity)), e.Subject, e.Items, e.Detail)
				if w := e.Waiver; w != nil {
					line += fmt.Sprintf(" [WAIVED by %s: %s; approved by %s; expires %s]", w.ID, w.Justification, w.Approver, day(w.Expires))
				}
				p.bullet(line)
			}
		}
		if len(c.Samples) > 0 {
			p.label(fmt.Sprintf("Samples (%d)%s", len(c.Samples), capNote(len(c.Samples), "samples.csv")))
			for _, s := range c.Samples[:min(len(c.Samples), MaxRows)] {
				line := fmt.Sprintf("%s  %s: %s", s.Time.UTC().Format("2006-01-02 15:04:05.000"), s.Subject, s.Detail)
				if s.TraceURL != "" {
					line += " trace " + s.TraceURL
				}
				if s.RequestURL != "" {
					line += " request " + s.RequestURL
				}
				p.bullet(line)
			}
		}
		p.label("Queries")
		for _, q := range c.Queries {
			p.code(q.Name, q.SQL)
		}
		p.label("Parameters bound")
		for _, prm := range c.Params {
			p.mono(prm.Name + " = " + prm.Value)
		}
	}

	p.heading(2, "Waivers")
	if len(r.Waivers) == 0 {
		p.para("No waivers are configured.")
	}
	for _, w := range r.Waivers {
		p.bullet(fmt.Sprintf("%s (check %s, subject %q): %s. Approved by %s, expires %s. Status: %s, covered %d exceptions.",
			w.ID, w.Check, w.Subject, w.Justification, w.Approver, day(w.Expires), w.Status, w.Covered))
	}

	p.heading(2, "Integrity")
	if r.Integrity.LedgerOK {
		p.para("The ingest ledger's hash chains verify over the period.")
	} else {
		p.para("The ingest ledger's hash chains do not verify over the period: " + r.Integrity.LedgerError + " (see check evidence_integrity).")
	}
	for _, h := range r.Integrity.LedgerHeads {
		p.mono(fmt.Sprintf("stream %s chain %s batches %d-%d (%d): head %s", h.Stream, h.Chain, h.FirstBatch, h.LastBatch, h.Batches, h.HeadHash))
	}
	p.para("Every file of this report is listed with its SHA-256 in manifest.json, which also cites these chain heads and is signed " +
		"with Ed25519 (manifest.sig). Check the bundle with: tapline report verify DIR")

	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type pdfDoc struct {
	f  *fpdf.Fpdf
	tr func(string) string
}

func day(t time.Time) string   { return t.UTC().Format(time.DateOnly) }
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func capNote(n int, file string) string {
	if n > MaxRows {
		return fmt.Sprintf(", first %d shown; all in %s", MaxRows, file)
	}
	return ""
}

func (p *pdfDoc) heading(level int, s string) {
	size := map[int]float64{1: 17, 2: 14, 3: 11}[level]
	if level == 2 {
		p.f.Ln(3)
	}
	p.f.SetFont("Helvetica", "B", size)
	p.f.SetTextColor(0, 0, 0)
	p.f.MultiCell(0, size*0.5, p.tr(s), "", "L", false)
	p.f.Ln(1)
}

func (p *pdfDoc) kv(k, v string) {
	p.f.SetFont("Helvetica", "B", 9)
	p.f.SetTextColor(0, 0, 0)
	p.f.CellFormat(28, 5, p.tr(k), "", 0, "L", false, 0, "")
	p.f.SetFont("Helvetica", "", 9)
	p.f.MultiCell(0, 5, p.tr(v), "", "L", false)
}

func (p *pdfDoc) kvResult(k string, res report.Result) {
	p.f.SetFont("Helvetica", "B", 9)
	p.f.CellFormat(28, 5, p.tr(k), "", 0, "L", false, 0, "")
	p.color(res)
	p.f.MultiCell(0, 5, strings.ToUpper(string(res)), "", "L", false)
	p.f.SetTextColor(0, 0, 0)
}

func (p *pdfDoc) para(s string) {
	p.f.SetFont("Helvetica", "", 9)
	p.f.SetTextColor(0, 0, 0)
	p.f.MultiCell(0, 4.5, p.tr(s), "", "L", false)
	p.f.Ln(1)
}

func (p *pdfDoc) label(s string) {
	p.f.Ln(1)
	p.f.SetFont("Helvetica", "B", 9)
	p.f.SetTextColor(0, 0, 0)
	p.f.MultiCell(0, 5, p.tr(s), "", "L", false)
}

func (p *pdfDoc) bullet(s string) {
	p.f.SetFont("Helvetica", "", 8)
	p.f.SetTextColor(0, 0, 0)
	p.f.CellFormat(4, 4, "-", "", 0, "L", false, 0, "")
	p.f.MultiCell(0, 4, p.tr(s), "", "L", false)
}

func (p *pdfDoc) mono(s string) {
	p.f.SetFont("Courier", "", 7)
	p.f.SetTextColor(0, 0, 0)
	p.f.MultiCell(0, 3.5, p.tr(s), "", "L", false)
}

func (p *pdfDoc) code(name, sql string) {
	p.f.SetFont("Helvetica", "I", 8)
	p.f.MultiCell(0, 4, p.tr(name), "", "L", false)
	p.f.SetFont("Courier", "", 6.5)
	p.f.SetFillColor(245, 245, 245)
	p.f.MultiCell(0, 3, p.tr(strings.TrimRight(sql, "\n")), "", "L", true)
	p.f.Ln(1)
}

func (p *pdfDoc) color(res report.Result) {
	switch res {
	case report.Pass:
		p.f.SetTextColor(23, 99, 42)
	case report.Fail:
		p.f.SetTextColor(176, 0, 32)
	case report.Error:
		p.f.SetTextColor(106, 27, 154)
	case report.Warn, report.Waived:
		p.f.SetTextColor(138, 90, 0)
	default:
		p.f.SetTextColor(0, 0, 0)
	}
}

// row writes one table row of single-line cells, cut to fit.
func (p *pdfDoc) row(widths []float64, cells []string, header bool) {
	style := ""
	if header {
		style = "B"
	}
	p.f.SetFont("Helvetica", style, 8)
	p.f.SetTextColor(0, 0, 0)
	p.f.SetFillColor(230, 230, 230)
	for i, c := range cells {
		p.f.CellFormat(widths[i], 5, p.fit(c, widths[i]), "1", 0, "L", header, 0, "")
	}
	p.f.Ln(-1)
}

// resultRow is row with the cell at col coloured by res.
func (p *pdfDoc) resultRow(widths []float64, cells []string, col int, res report.Result) {
	p.f.SetFont("Helvetica", "", 8)
	for i, c := range cells {
		if i == col {
			p.color(res)
		} else {
			p.f.SetTextColor(0, 0, 0)
		}
		p.f.CellFormat(widths[i], 5, p.fit(c, widths[i]), "1", 0, "L", false, 0, "")
	}
	p.f.SetTextColor(0, 0, 0)
	p.f.Ln(-1)
}

// fit shortens s to the cell width, marking the cut with "...".
func (p *pdfDoc) fit(s string, w float64) string {
	t := p.tr(s)
	if p.f.GetStringWidth(t) <= w-2 {
		return t
	}
	for len(t) > 0 && p.f.GetStringWidth(t+"...") > w-2 {
		t = t[:len(t)-1]
	}
	return t + "..."
}
