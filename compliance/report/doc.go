// Package report is the data model of a compliance evidence report: the
// framework and period assessed, per control the checks run, their
// populations, per-day results, exceptions (with waivers shown, not
// hidden), samples linking to the UI, the exact SQL with its bound
// parameters, and the integrity facts (ingest ledger chain heads) the
// signed manifest cites.
//
// It holds data only: package checks fills it, package render writes it
// out. It must not run queries or read files.
package report
