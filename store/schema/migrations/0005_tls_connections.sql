-- tls_connections: one row per TLS connection seen at the tap, including
-- failed handshakes (Established = false, Failure = a machine-readable reason
-- from package event, FailureDetail = the TLS library's words).

-- name: create tls_connections
CREATE TABLE IF NOT EXISTS {{table "tls_connections"}}{{onCluster}}
(
    Timestamp          DateTime64(9) CODEC(Delta, ZSTD(1)),
    Source             LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    Node               LowCardinality(String) CODEC(ZSTD(1)),
    Listener           LowCardinality(String) CODEC(ZSTD(1)),
    ConnectionId       String CODEC(ZSTD(1)),
    ClientAddress      String CODEC(ZSTD(1)),
    ClientPort         UInt16 CODEC(ZSTD(1)),
    ServerName         LowCardinality(String) CODEC(ZSTD(1)),
    Established        Bool CODEC(ZSTD(1)),
    Failure            LowCardinality(String) CODEC(ZSTD(1)),
    FailureDetail      String CODEC(ZSTD(1)),
    HandshakeDuration  UInt64 CODEC(ZSTD(1)),
    TlsVersion         LowCardinality(String) CODEC(ZSTD(1)),
    TlsCipher          LowCardinality(String) CODEC(ZSTD(1)),
    TlsResumed         Bool CODEC(ZSTD(1)),
    Alpn               LowCardinality(String) CODEC(ZSTD(1)),
    MtlsVerified       Bool CODEC(ZSTD(1)),
    PeerSpiffeId       String CODEC(ZSTD(1)),
    PeerSubject        String CODEC(ZSTD(1)),
    PeerIssuer         String CODEC(ZSTD(1)),
    PeerSerial         String CODEC(ZSTD(1)),
    PeerNotBefore      DateTime('UTC') CODEC(ZSTD(1)),
    PeerNotAfter       DateTime('UTC') CODEC(ZSTD(1)),
    PeerFingerprint    String CODEC(ZSTD(1)),
    Attributes         Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    IngestTimestamp    DateTime64(3) DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    INDEX idx_connection_id ConnectionId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = {{engine "MergeTree" "tls_connections"}}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), Listener, Timestamp)
{{ttl "tls_connections"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{{dedupWindow}};

-- name: distribute tls_connections
{{distributed "tls_connections" "rand()"}}
