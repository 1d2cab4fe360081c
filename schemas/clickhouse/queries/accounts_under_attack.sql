-- Accounts with the most failed logins in a period, exact and free of
-- redelivered duplicates (read from login_events, counting distinct
-- event ids): how many addresses, networks and countries the failures
-- came from, the lockouts, and whether the account also logged in
-- successfully in the period (successes, last_success; empty when none).
-- An account is a tenant's user: the same user_id in two tenants is two
-- rows (tenant_id '' is the default tenant).
-- @param from DateTime -24h start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param min_failures UInt64 5 leave out accounts with fewer failures
-- @param limit UInt32 50 rows to return
SELECT
    tenant_id,
    user_id,
    uniqExactIf(event_id, outcome = 'failure') AS failures,
    uniqExactIf(ip, outcome = 'failure') AS failing_ips,
    uniqExactIf(network, outcome = 'failure') AS failing_networks,
    uniqExactIf(country, outcome = 'failure' AND country != '') AS failing_countries,
    uniqExactIf(event_id, decision = 'lockout') AS lockouts,
    uniqExactIf(event_id, outcome = 'success') AS successes,
    minIf(occurred_at, outcome = 'failure') AS first_failure,
    maxIf(occurred_at, outcome = 'failure') AS last_failure,
    nullIf(maxIf(occurred_at, outcome = 'success'), toDateTime(0)) AS last_success
FROM login_events
WHERE occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
GROUP BY tenant_id, user_id
HAVING failures >= {min_failures:UInt64}
ORDER BY failures DESC, tenant_id, user_id
LIMIT {limit:UInt32}
