-- The periods of a schedule's runs whose latest state is done. A run's
-- rows are merged by hand (argMax by FinishedAt) rather than with FINAL,
-- so that a row not yet merged counts at once.
SELECT PeriodStart, PeriodEnd
FROM
(
    SELECT RunId, any(PeriodStart) AS PeriodStart, any(PeriodEnd) AS PeriodEnd, argMax(Status, FinishedAt) AS status
    FROM compliance_runs
    WHERE Framework = {framework:String} AND Schedule = {schedule:String}
    GROUP BY RunId
)
WHERE status = {done:String}
ORDER BY PeriodEnd
