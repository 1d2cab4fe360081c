-- Source addresses with the most failed logins in a period, from the
-- hourly per-IP aggregate (the period is rounded to whole hours).
-- failed_users is the number of distinct accounts the address failed on.
-- @param from DateTime -24h start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param min_failures UInt64 1 leave out addresses with fewer failures
-- @param limit UInt32 20 rows to return
SELECT
    ip,
    any(network) AS network,
    argMax(country, hour) AS country,
    argMax(asn, hour) AS asn,
    argMax(as_org, hour) AS as_org,
    sum(failure_count) AS failures,
    sum(attempt_count) AS attempts,
    sum(success_count) AS successes,
    sum(lockout_count) AS lockouts,
    uniqIfMerge(failed_users) AS failed_users,
    uniqMerge(users) AS users,
    min(hour) AS first_hour,
    max(hour) AS last_hour
FROM ip_hourly
WHERE hour >= toStartOfHour({from:DateTime}) AND hour < {to:DateTime}
GROUP BY ip
HAVING failures >= {min_failures:UInt64}
ORDER BY failures DESC, ip
LIMIT {limit:UInt32}
