-- attack_mode_changes: every start (started = 1) and end (started = 0) of attack mode,
-- at the event time it changed, with the signals it changed on. A change
-- recorded twice (a redelivery, a restart's warm-up) is one row once merged:
-- the table is keyed on (at, started).
CREATE TABLE IF NOT EXISTS attack_mode_changes
(
    at                          DateTime('UTC'),
    started                     UInt8,
    failures_15m                UInt32,
    failure_rate_ratio          Float64,
    failure_share               Float64,
    baseline_failure_share      Float64,
    unknown_user_share          Float64,
    baseline_unknown_user_share Float64,
    never_fail_ratio            Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, started);
