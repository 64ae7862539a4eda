-- Recorded runs, newest first, each in its latest state.
SELECT RunId, any(Framework), any(Schedule), any(Trigger), argMax(Status, FinishedAt), any(PeriodStart), any(PeriodEnd),
       min(StartedAt), max(FinishedAt), argMax(OutputDir, FinishedAt), argMax(ManifestSha256, FinishedAt), argMax(Error, FinishedAt)
FROM compliance_runs
GROUP BY RunId
ORDER BY min(StartedAt) DESC, RunId
LIMIT {limit:UInt32}
