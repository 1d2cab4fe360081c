-- user_daily: per user and day, attempts by outcome and decision, the
-- highest score, first and last attempt, and distinct addresses,
-- networks, devices and countries.
CREATE TABLE IF NOT EXISTS user_daily
(
    day         Date,
    user_id     String,
    attempt_count    UInt64,
    failure_count    UInt64,
    success_count    UInt64,
    challenge_count  UInt64,
    lockout_count    UInt64,
    max_score   AggregateFunction(max, UInt8),
    first_at    AggregateFunction(min, DateTime('UTC')),
    last_at     AggregateFunction(max, DateTime('UTC')),
    ips         AggregateFunction(uniq, String),
    networks    AggregateFunction(uniq, String),
    devices     AggregateFunction(uniqIf, String, UInt8),
    countries   AggregateFunction(groupUniqArray, String)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS user_daily_mv TO user_daily AS
SELECT
    toDate(occurred_at) AS day,
    user_id,
    count() AS attempt_count,
    countIf(outcome = 'failure') AS failure_count,
    countIf(outcome = 'success') AS success_count,
    countIf(decision = 'challenge') AS challenge_count,
    countIf(decision = 'lockout') AS lockout_count,
    maxState(score) AS max_score,
    minState(occurred_at) AS first_at,
    maxState(occurred_at) AS last_at,
    uniqState(ip) AS ips,
    uniqState(network) AS networks,
    uniqIfState(device_key, device_key != '') AS devices,
    -- CAST drops LowCardinality on servers that have it, so the state
    -- type is the same on every release.
    groupUniqArrayState(CAST(country AS String)) AS countries
FROM login_events
GROUP BY day, user_id;
