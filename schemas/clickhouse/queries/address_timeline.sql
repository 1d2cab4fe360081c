-- One address's or network's attempts in time order: who tried, from
-- where, the score, the decision, any lock and the reasons (rule(weight):
-- detail), free of redelivered duplicates. The address matches the ip
-- column, a network (/24 or /64 in CIDR text) the network column. Who
-- tried is a tenant's user: tenant_id ('' for the default tenant) and
-- user_id.
-- @param address String - an address, or a network as features name it (198.51.100.0/24)
-- @param from DateTime -30d start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param limit UInt32 1000 rows to return
SELECT
    occurred_at,
    event_id,
    tenant_id,
    user_id,
    outcome,
    failure_reason,
    ip,
    network,
    country,
    city,
    asn,
    device_key,
    score,
    decision,
    if(lock_scope = '', '', concat(CAST(lock_scope AS String), ' ', lock_key, ' until ', toString(lock_until, 'UTC'))) AS lock,
    arrayStringConcat(arrayMap((r, w, d) -> concat(r, '(', toString(w), ')', if(d = '', '', concat(': ', d))), reason_rules, reason_weights, reason_details), '; ') AS reasons,
    rules_version
FROM login_events FINAL
WHERE (ip = {address:String} OR network = {address:String}) AND occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
ORDER BY occurred_at, occurred_at_ns, event_id
LIMIT {limit:UInt32}
