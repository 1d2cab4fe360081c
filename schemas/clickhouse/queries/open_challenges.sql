-- Challenges and lockouts of the last day that no analyst has labelled
-- yet (no row in feedback): the queue of POST
-- /v1/decisions/{event_id}/feedback. A decision only reporting an active
-- lock (reason locked) is left out: the decision that set the lock is
-- the one to label.
-- @param from DateTime -24h start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param limit UInt32 1000 rows to return
SELECT
    occurred_at,
    event_id,
    tenant_id,
    user_id,
    ip,
    decision,
    score,
    if(lock_scope = '', '', concat(CAST(lock_scope AS String), ' ', lock_key, ' until ', toString(lock_until, 'UTC'))) AS lock,
    arrayStringConcat(reason_rules, ', ') AS rules
FROM login_events FINAL
WHERE occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
    AND decision != 'allow' AND source != 'admin'
    AND NOT has(reason_rules, 'locked')
    AND event_id NOT IN (SELECT event_id FROM feedback)
ORDER BY occurred_at, event_id
LIMIT {limit:UInt32}
