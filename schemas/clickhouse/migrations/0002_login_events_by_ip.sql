-- login_events_by_ip: the columns per-IP questions need, ordered by
-- (ip, occurred_at, event_id) so that one address's history is a range
-- scan. Kept up by a materialized view over login_events; deduplicates
-- redeliveries like login_events (same key, ReplacingMergeTree).
CREATE TABLE IF NOT EXISTS login_events_by_ip
(
    ip              String,
    occurred_at     DateTime('UTC'),
    occurred_at_ns  UInt32,
    event_id        String,
    network         String,
    user_id         String,
    outcome         Enum8('success' = 1, 'failure' = 2),
    failure_reason  {{lc "String"}},
    auth_method     {{lc "String"}},
    country         {{lc "String"}},
    city            String,
    asn             UInt32,
    as_org          String,
    device_key      String,
    user_agent      String{{codec "ZSTD(3)"}},
    score           UInt8,
    decision        Enum8('allow' = 1, 'challenge' = 2, 'lockout' = 3),
    reason_rules    Array(String),
    lock_scope      Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4),
    lock_until      DateTime('UTC'),
    decided_at      DateTime('UTC'),
    source          Enum8('kafka' = 1, 'http' = 2, 'admin' = 3)
)
ENGINE = ReplacingMergeTree(decided_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (ip, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS login_events_by_ip_mv TO login_events_by_ip AS
SELECT
    ip, occurred_at, occurred_at_ns, event_id, network, user_id, outcome,
    failure_reason, auth_method, country, city, asn, as_org, device_key,
    user_agent, score, decision, reason_rules, lock_scope, lock_until,
    decided_at, source
FROM login_events;
