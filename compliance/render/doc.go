// Package render writes a report.Report out as the files of an evidence
// bundle: report.json, report.html (for a person: summary, per control and
// check the population, per-day results, exceptions, samples, queries and
// the integrity facts), report.pdf (the same, rendered in Go with text a
// tool can extract), exceptions.csv, populations.csv and samples.csv, and
// oscal-assessment-results.json (OSCAL 1.0.4 assessment results).
//
// Every output is a pure function of the report: the same report gives the
// same bytes. The package must not query anything or sign anything.
package render

// File names of the bundle.
const (
	FileJSON        = "report.json"
	FileHTML        = "report.html"
	FilePDF         = "report.pdf"
	FileExceptions  = "exceptions.csv"
	FilePopulations = "populations.csv"
	FileSamples     = "samples.csv"
	FileOSCAL       = "oscal-assessment-results.json"
)
