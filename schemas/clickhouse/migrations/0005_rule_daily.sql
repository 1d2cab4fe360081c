-- rule_daily: per day, rule, mode (active or shadow) and final decision,
-- how many events the rule matched and the sum of its weights. Two views
-- feed it: one ARRAY JOINs the active reasons (including the pseudo-rule
-- 'locked' of decisions made because a lock was active), one the shadow
-- hits. The decision column tells what a shadow rule would have changed:
-- its hits on 'allow' are events it would have pushed towards a challenge.
CREATE TABLE IF NOT EXISTS rule_daily
(
    day         Date,
    rule        String,
    mode        {{lc "String"}},
    decision    Enum8('allow' = 1, 'challenge' = 2, 'lockout' = 3),
    hit_count   UInt64,
    weight_sum  Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, rule, mode, decision);

CREATE MATERIALIZED VIEW IF NOT EXISTS rule_daily_active_mv TO rule_daily AS
SELECT
    toDate(occurred_at) AS day,
    rule,
    'active' AS mode,
    decision,
    count() AS hit_count,
    sum(toInt64(weight)) AS weight_sum
FROM login_events
ARRAY JOIN reason_rules AS rule, reason_weights AS weight
GROUP BY day, rule, decision;

CREATE MATERIALIZED VIEW IF NOT EXISTS rule_daily_shadow_mv TO rule_daily AS
SELECT
    toDate(occurred_at) AS day,
    rule,
    'shadow' AS mode,
    decision,
    count() AS hit_count,
    sum(toInt64(weight)) AS weight_sum
FROM login_events
ARRAY JOIN shadow_rules AS rule, shadow_weights AS weight
GROUP BY day, rule, decision;
