-- login_events: one row per scored event: the event, its enrichment, the
-- features the rules saw and the decision. It is the history's source of
-- truth; every other table is derived from it by a materialized view.
--
-- Deduplication: ReplacingMergeTree collapses rows with the same ORDER BY
-- key. A redelivered event has the same user_id, occurred_at and event_id,
-- so it collapses into one row (the one with the latest decided_at) when
-- parts merge; queries that must not see duplicates read with FINAL or
-- count uniqExact(event_id).
--
-- Times are DateTime('UTC'), whole seconds; occurred_at_ns keeps the
-- sub-second part of occurred_at so warm-up replays events in their exact
-- order.
-- Booleans are UInt8. lock_until is 1970-01-01 00:00:00 when no lock.
CREATE TABLE IF NOT EXISTS login_events
(
    -- The event as the gateway sent it.
    event_id                   String,
    occurred_at                DateTime('UTC'),
    occurred_at_ns             UInt32,
    user_id                    String,
    outcome                    Enum8('success' = 1, 'failure' = 2),
    ip                         String,
    user_agent                 String{{codec "ZSTD(3)"}},
    device_id                  String,
    failure_reason             {{lc "String"}},
    auth_method                {{lc "String"}},
    tenant_id                  {{lc "String"}},
    attribute_keys             Array(String),
    attribute_values           Array(String),

    -- Enrichment: network, GeoIP City / ASN / Anonymous-IP, device.
    network                    String,
    ipv6                       UInt8,
    geo_known                  UInt8,
    country                    {{lc "String"}},
    subdivision                {{lc "String"}},
    city                       String,
    latitude                   Float64,
    longitude                  Float64,
    accuracy_radius_km         UInt32,
    time_zone                  {{lc "String"}},
    asn_known                  UInt8,
    asn                        UInt32,
    as_org                     String,
    anon_known                 UInt8,
    anonymous                  UInt8,
    anonymous_vpn              UInt8,
    hosting                    UInt8,
    public_proxy               UInt8,
    tor_exit                   UInt8,
    residential_proxy          UInt8,
    browser                    {{lc "String"}},
    browser_major              UInt32,
    os                         {{lc "String"}},
    device_type                {{lc "String"}},
    automation                 UInt8,
    device_key                 String,
    has_device_id              UInt8,

    -- Behaviour at the moment of the attempt (window counts include it).
    user_failures_1m           UInt32,
    user_failures_15m          UInt32,
    user_failures_1h           UInt32,
    user_failures_24h          UInt32,
    user_successes_1m          UInt32,
    user_successes_15m         UInt32,
    user_successes_1h          UInt32,
    user_successes_24h         UInt32,
    user_consecutive_failures  UInt32,
    user_network_failures_15m  UInt32,
    user_distinct_ips_1h       UInt32,
    user_known                 UInt8,
    user_successes_total       UInt32,
    new_country                UInt8,
    new_city                   UInt8,
    new_asn                    UInt8,
    new_device                 UInt8,
    new_network                UInt8,
    seconds_since_last_success Float64,
    travel_km                  Float64,
    travel_speed_kmh           Float64,
    ip_failures_1m             UInt32,
    ip_failures_10m            UInt32,
    ip_failures_1h             UInt32,
    ip_attempts_1h             UInt32,
    ip_distinct_users_10m      UInt32,
    ip_distinct_users_1h       UInt32,
    ip_success_ratio_1h        Float64,
    device_distinct_users_24h  UInt32,

    -- The decision.
    score                      UInt8,
    decision                   Enum8('allow' = 1, 'challenge' = 2, 'lockout' = 3),
    lock_scope                 Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4),
    lock_key                   String,
    lock_until                 DateTime('UTC'),
    lock_rule                  String,
    reason_rules               Array(String),
    reason_weights             Array(Int32),
    reason_details             Array(String){{codec "ZSTD(3)"}},
    shadow_rules               Array(String),
    shadow_weights             Array(Int32),
    rules_version              {{lc "String"}},
    decided_at                 DateTime('UTC'),
    source                     Enum8('kafka' = 1, 'http' = 2, 'admin' = 3)
)
ENGINE = ReplacingMergeTree(decided_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (user_id, occurred_at, event_id);
