-- compliance_runs: one row per evidence report run. A run is written when it
-- starts (FinishedAt = 0, Status 'running') and again when it ends; the
-- ReplacingMergeTree keeps the row with the latest FinishedAt, so read with
-- FINAL (or argMax(..., FinishedAt) GROUP BY RunId).
-- Trigger is schedule, manual or catch-up. Times are UTC.

-- name: create compliance_runs
CREATE TABLE IF NOT EXISTS {{table "compliance_runs"}}{{onCluster}}
(
    RunId           String,
    Framework       LowCardinality(String),
    PeriodStart     DateTime('UTC'),
    PeriodEnd       DateTime('UTC'),
    Scope           String,
    StartedAt       DateTime64(3, 'UTC'),
    FinishedAt      DateTime64(3, 'UTC'),
    Status          LowCardinality(String),
    Trigger         LowCardinality(String),
    Schedule        String,
    ManifestSha256  String,
    Signature       String,
    LedgerHead      String,
    OutputDir       String,
    Error           String
)
ENGINE = {{engine "ReplacingMergeTree" "compliance_runs" "FinishedAt"}}
ORDER BY (RunId)
{{ttl "compliance_runs"}}
SETTINGS index_granularity = 8192;

-- name: distribute compliance_runs
{{distributed "compliance_runs" "cityHash64(RunId)"}}

-- compliance_findings: one row per check, control and day of a run.
-- Result is pass, fail, waived or error; Details is a JSON document; Query and
-- Params are the exact SQL text and bound values that produced the row.

-- name: create compliance_findings
CREATE TABLE IF NOT EXISTS {{table "compliance_findings"}}{{onCluster}}
(
    RunId       String,
    Framework   LowCardinality(String),
    ControlId   LowCardinality(String),
    CheckId     LowCardinality(String),
    Day         Date,
    Result      LowCardinality(String),
    Population  UInt64,
    Exceptions  UInt64,
    Waived      UInt64,
    Details     String CODEC(ZSTD(1)),
    Query       String CODEC(ZSTD(1)),
    Params      Map(String, String) CODEC(ZSTD(1))
)
ENGINE = {{engine "MergeTree" "compliance_findings"}}
ORDER BY (RunId, Framework, ControlId, CheckId, Day)
{{ttl "compliance_findings"}}
SETTINGS index_granularity = 8192;

-- A run's findings stay on one shard with its run row.
-- name: distribute compliance_findings
{{distributed "compliance_findings" "cityHash64(RunId)"}}
