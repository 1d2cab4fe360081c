-- One account's attempts in time order with where they came from, the
-- score, the decision, any lock and the reasons (rule(weight): detail),
-- free of redelivered duplicates. An account is a tenant's user:
-- tenant names it with user_id ('' for the default tenant).
-- @param user_id String - the account
-- @param tenant String '' the account's tenant (its events' tenant_id; '' for the default tenant)
-- @param from DateTime -30d start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param limit UInt32 1000 rows to return
SELECT
    occurred_at,
    event_id,
    outcome,
    failure_reason,
    auth_method,
    ip,
    country,
    city,
    asn,
    device_key,
    new_device,
    score,
    decision,
    if(lock_scope = '', '', concat(CAST(lock_scope AS String), ' ', lock_key, ' until ', toString(lock_until, 'UTC'))) AS lock,
    arrayStringConcat(arrayMap((r, w, d) -> concat(r, '(', toString(w), ')', if(d = '', '', concat(': ', d))), reason_rules, reason_weights, reason_details), '; ') AS reasons,
    arrayStringConcat(arrayMap((r, w) -> concat(r, '(', toString(w), ')'), shadow_rules, shadow_weights), '; ') AS shadow,
    rules_version
FROM login_events FINAL
WHERE tenant_id = {tenant:String} AND user_id = {user_id:String} AND occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
ORDER BY occurred_at, occurred_at_ns, event_id
LIMIT {limit:UInt32}
