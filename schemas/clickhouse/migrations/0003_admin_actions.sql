-- admin_actions: what operators did through the admin API, e.g. lifting a
-- lock (action 'lift_lock', scope and key of the lock). Warm-up reads it so
-- that a lock lifted by hand stays lifted after a restart.
CREATE TABLE IF NOT EXISTS admin_actions
(
    at      DateTime('UTC'),
    actor   String,
    action  {{lc "String"}},
    scope   {{lc "String"}},
    key     String,
    detail  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (action, scope, key, at);
