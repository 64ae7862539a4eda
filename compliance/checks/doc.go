// Package checks runs Tapline's compliance checks against the ClickHouse
// tables and decides their results.
//
// A check is three parameterised SQL queries in sql/ (embedded): the
// population per day, the exceptions per day and subject (with the
// threshold bound as a parameter, so the decision is in the SQL an auditor
// reads), and samples of the records behind each exception, picked
// reproducibly (ORDER BY cityHash64(key, {seed:UInt64}) LIMIT n BY day,
// subject). Values only ever reach ClickHouse as bound {name:Type}
// parameters. Evidence integrity (check 17) recomputes the ingest ledger's
// hash chain in Go with ingest.VerifyLedger.
//
// A day with no population is an error, never a pass; a check whose
// allow-list or declared set is empty is an error ("not configured").
// Waivers mark exceptions as accepted; they never remove them.
//
// The package must not write anything: it reads tables and returns
// report.CheckResult values.
package checks
