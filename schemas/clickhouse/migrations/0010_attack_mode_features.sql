-- The platform-wide features of attack mode (docs/detection.md, "Attack
-- mode"), one column each, on every scored event. One ALTER statement, so
-- that it applies whole or not at all (18.16 has no ADD COLUMN IF NOT
-- EXISTS). Rows stored before it read them as zero.
ALTER TABLE login_events
    ADD COLUMN attack_mode UInt8,
    ADD COLUMN platform_failures_15m UInt32,
    ADD COLUMN platform_failure_rate_ratio Float64,
    ADD COLUMN platform_failure_share Float64,
    ADD COLUMN platform_unknown_user_share Float64,
    ADD COLUMN platform_never_fail_ratio Float64;
