-- How often each rule matched in a period (whole days, UTC), active and
-- shadow: hits, the share of all events it matched, its average weight,
-- and the final decisions of the events it matched. For a shadow rule,
-- on_allow is what promoting it would change: events it matched that
-- were allowed.
-- @param from DateTime -7d first day of the period (inclusive)
-- @param to DateTime now last day of the period (inclusive)
SELECT
    rule,
    mode,
    sum(hit_count) AS hits,
    round(hits / (
        SELECT sum(event_count) FROM decisions_hourly
        WHERE toDate(hour) >= toDate({from:DateTime}) AND toDate(hour) <= toDate({to:DateTime})
    ), 4) AS hit_rate,
    round(sum(weight_sum) / hits, 1) AS avg_weight,
    sumIf(hit_count, decision = 'allow') AS on_allow,
    sumIf(hit_count, decision = 'challenge') AS on_challenge,
    sumIf(hit_count, decision = 'lockout') AS on_lockout
FROM rule_daily
WHERE day >= toDate({from:DateTime}) AND day <= toDate({to:DateTime})
GROUP BY rule, mode
ORDER BY mode, hits DESC, rule
