-- Fewer materialized views behind login_events (issue 21): every view
-- turns each INSERT into one more part to write and merge, and the
-- ClickHouse CPU of a history row is mostly that (docs/history.md, "What
-- a row costs").
--
-- login_events_by_ip copied 22 columns of every row; no query reads it,
-- and address_timeline reads login_events. user_daily is read by no query
-- either: per-user questions read login_events, whose key starts with
-- user_id (user_timeline). Both tables and their views go; login_events
-- holds all they held.
DROP TABLE IF EXISTS login_events_by_ip_mv;
DROP TABLE IF EXISTS login_events_by_ip;
DROP TABLE IF EXISTS user_daily_mv;
DROP TABLE IF EXISTS user_daily;

-- rule_daily is fed by one view instead of two: the active reasons and
-- the shadow hits are ARRAY JOINed together, each tagged with its mode,
-- so an insert reads login_events' rule columns once and writes one part.
DROP TABLE IF EXISTS rule_daily_active_mv;
DROP TABLE IF EXISTS rule_daily_shadow_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS rule_daily_mv TO rule_daily AS
SELECT
    toDate(occurred_at) AS day,
    hit.1 AS rule,
    hit.2 AS mode,
    decision,
    count() AS hit_count,
    sum(hit.3) AS weight_sum
FROM login_events
ARRAY JOIN arrayConcat(
    arrayMap((r, w) -> (r, 'active', toInt64(w)), reason_rules, reason_weights),
    arrayMap((r, w) -> (r, 'shadow', toInt64(w)), shadow_rules, shadow_weights)) AS hit
GROUP BY day, rule, mode, decision;
