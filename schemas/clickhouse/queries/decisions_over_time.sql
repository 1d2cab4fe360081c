-- Decisions per time bucket (allow, challenge, lockout; failures and
-- average score), from the hourly aggregate. Buckets are a whole number
-- of hours, aligned to the Unix epoch (UTC).
-- @param from DateTime -24h start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param bucket_hours UInt32 1 bucket width in hours
SELECT
    toDateTime(intDiv(toUInt32(hour), {bucket_hours:UInt32} * 3600) * ({bucket_hours:UInt32} * 3600), 'UTC') AS bucket,
    sum(event_count) AS events,
    sumIf(event_count, decision = 'allow') AS allow,
    sumIf(event_count, decision = 'challenge') AS challenge,
    sumIf(event_count, decision = 'lockout') AS lockout,
    sumIf(event_count, outcome = 'failure') AS failures,
    round(sum(score_sum) / events, 1) AS avg_score,
    uniqMerge(users) AS users,
    uniqMerge(ips) AS ips
FROM decisions_hourly
WHERE hour >= toStartOfHour({from:DateTime}) AND hour < {to:DateTime}
GROUP BY bucket
ORDER BY bucket
