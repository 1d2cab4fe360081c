-- decisions_hourly: per hour, decision, outcome and source, the number of
-- events, their summed score (average = score_sum / event_count) and distinct
-- users and addresses.
CREATE TABLE IF NOT EXISTS decisions_hourly
(
    hour       DateTime('UTC'),
    decision   Enum8('allow' = 1, 'challenge' = 2, 'lockout' = 3),
    outcome    Enum8('success' = 1, 'failure' = 2),
    source     Enum8('kafka' = 1, 'http' = 2, 'admin' = 3),
    event_count  UInt64,
    score_sum    UInt64,
    users        AggregateFunction(uniq, String),
    ips          AggregateFunction(uniq, String)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, decision, outcome, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS decisions_hourly_mv TO decisions_hourly AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    decision,
    outcome,
    source,
    count() AS event_count,
    sum(toUInt64(score)) AS score_sum,
    uniqState(user_id) AS users,
    uniqState(ip) AS ips
FROM login_events
GROUP BY hour, decision, outcome, source;
