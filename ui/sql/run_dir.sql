-- A run's bundle directory and status, in the run's latest state.
SELECT argMax(OutputDir, FinishedAt), argMax(Status, FinishedAt)
FROM compliance_runs
WHERE RunId = {run:String}
