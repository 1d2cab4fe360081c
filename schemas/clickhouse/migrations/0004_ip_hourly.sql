-- ip_hourly: per source address and hour, the number of attempts,
-- failures, successes, challenges and lockouts (*_count, summed) and the
-- distinct users, all and failed (uniq states: read with uniqMerge and
-- uniqIfMerge). network,
-- country and ASN are in the key: they follow from the address (they only
-- change when a GeoIP database is updated).
--
-- A materialized view sees inserts, not merges: an event delivered twice
-- is counted twice in the sums (distinct users are unaffected). See
-- docs/history.md, "Duplicates".
CREATE TABLE IF NOT EXISTS ip_hourly
(
    hour          DateTime('UTC'),
    network       String,
    ip            String,
    country       {{lc "String"}},
    asn           UInt32,
    as_org        String,
    attempt_count    UInt64,
    failure_count    UInt64,
    success_count    UInt64,
    challenge_count  UInt64,
    lockout_count    UInt64,
    users         AggregateFunction(uniq, String),
    failed_users  AggregateFunction(uniqIf, String, UInt8)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, network, ip, country, asn, as_org);

CREATE MATERIALIZED VIEW IF NOT EXISTS ip_hourly_mv TO ip_hourly AS
SELECT
    toStartOfHour(occurred_at) AS hour,
    network,
    ip,
    country,
    asn,
    as_org,
    count() AS attempt_count,
    countIf(outcome = 'failure') AS failure_count,
    countIf(outcome = 'success') AS success_count,
    countIf(decision = 'challenge') AS challenge_count,
    countIf(decision = 'lockout') AS lockout_count,
    uniqState(user_id) AS users,
    uniqIfState(user_id, outcome = 'failure') AS failed_users
FROM login_events
GROUP BY hour, network, ip, country, asn, as_org;
