-- Attempts whose location is too far from the account's previous
-- successful login for the time between them (travel_speed_kmh as the
-- features computed it at decision time), fastest first. The account is
-- tenant_id's user_id ('' is the default tenant).
-- @param from DateTime -7d start of the period (inclusive)
-- @param to DateTime now end of the period (exclusive)
-- @param min_speed_kmh Float64 900 leave out slower travel (900 km/h is an airliner)
-- @param min_km Float64 500 leave out shorter distances (GeoIP is imprecise)
-- @param limit UInt32 100 rows to return
SELECT
    occurred_at,
    tenant_id,
    user_id,
    event_id,
    outcome,
    ip,
    country,
    city,
    round(travel_km) AS distance_km,
    round(travel_speed_kmh) AS speed_kmh,
    round(seconds_since_last_success) AS seconds_since_last,
    score,
    decision
FROM login_events FINAL
WHERE occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
    AND travel_speed_kmh >= {min_speed_kmh:Float64} AND travel_km >= {min_km:Float64}
ORDER BY travel_speed_kmh DESC, occurred_at, event_id
LIMIT {limit:UInt32}
