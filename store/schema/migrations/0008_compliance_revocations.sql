-- compliance_revocations: identities revoked, for the compliance check
-- "no identity is used after its revocation". Identity is a principal, a
-- SPIFFE ID, a certificate serial or fingerprint, or a JWT subject, as
-- access_events records them. The check also reads a configured list; the
-- earliest revocation of an identity counts. Times are UTC.

-- name: create compliance_revocations
CREATE TABLE IF NOT EXISTS {{table "compliance_revocations"}}{{onCluster}}
(
    Identity   String,
    RevokedAt  DateTime64(3, 'UTC'),
    Reason     String,
    Source     LowCardinality(String),
    AddedAt    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{engine "ReplacingMergeTree" "compliance_revocations" "AddedAt"}}
ORDER BY (Identity, RevokedAt)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_revocations
{{distributed "compliance_revocations" "cityHash64(Identity)"}}
