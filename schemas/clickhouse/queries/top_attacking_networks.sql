-- Networks (/24 for IPv4, /64 for IPv6) with the most failed logins in a
-- period, with their ASN, the number of addresses used and the accounts
-- tried, from the hourly per-IP aggregate (whole hours).
-- @param from DateTime -24h start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param min_failures UInt64 1 leave out networks with fewer failures
-- @param limit UInt32 20 rows to return
SELECT
    network,
    argMax(asn, hour) AS asn,
    argMax(as_org, hour) AS as_org,
    argMax(country, hour) AS country,
    sum(failure_count) AS failures,
    sum(attempt_count) AS attempts,
    sum(success_count) AS successes,
    uniqExactIf(ip, failure_count > 0) AS failing_ips,
    uniqIfMerge(failed_users) AS failed_users,
    uniqMerge(users) AS users
FROM ip_hourly
WHERE hour >= toStartOfHour({from:DateTime}) AND hour < {to:DateTime}
GROUP BY network
HAVING failures >= {min_failures:UInt64}
ORDER BY failures DESC, network
LIMIT {limit:UInt32}
