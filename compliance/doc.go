// Package compliance produces scheduled SOC 2 and ISO/IEC 27001 evidence
// reports an auditor can accept: for a framework and a period it runs the
// checks of the control catalogue against the ClickHouse tables, writes
// the bundle (HTML, PDF, CSV, JSON, OSCAL assessment results), lists every
// file's SHA-256 with the ingest ledger's chain heads in a manifest signed
// with Ed25519, and records the run in compliance_runs and
// compliance_findings.
//
// Run produces one report (the CLI, the UI's "run now"). A Scheduler runs
// the configured cron schedules, catches up on start the runs missed while
// Tapline was down (once: a run is keyed by framework, schedule and
// period), and delivers each bundle to a directory and optionally a
// webhook. Subpackages: catalog (controls as data), checks (the SQL and
// the decisions), report (the model), render (the outputs), sign (the
// manifest and its verification).
//
// The package never interpolates values into SQL, never hides an
// exception (waivers are shown as such), and never reports missing data as
// a pass.
package compliance
