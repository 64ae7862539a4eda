-- Each control's result in the latest finished run of each framework: the
-- results of its checks over the period's days (the page takes the worst),
-- with the exceptions and waived exceptions found.
SELECT f.Framework, f.RunId, f.ControlId, groupUniqArray(f.Result), sum(f.Exceptions), sum(f.Waived)
FROM compliance_findings AS f
WHERE (f.Framework, f.RunId) IN (
    SELECT Framework, argMax(RunId, StartedAt)
    FROM (
        SELECT RunId, any(Framework) AS Framework, min(StartedAt) AS StartedAt, argMax(Status, FinishedAt) AS Status
        FROM compliance_runs
        GROUP BY RunId
    )
    WHERE Status = {done:String}
    GROUP BY Framework
)
GROUP BY f.Framework, f.RunId, f.ControlId
