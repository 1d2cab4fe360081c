-- Successful logins from a device new to the account followed, within a
-- few minutes, by a failed MFA step (failure_reason mfa_failed) for the
-- same account: the password was right but the second factor was not,
-- the pattern of a phished or stuffed password. The same account is the
-- same tenant's user (tenant_id '' is the default tenant).
-- @param from DateTime -7d start of the period for the new-device login (inclusive)
-- @param to DateTime now end of the period for the new-device login (exclusive)
-- @param within_minutes UInt32 10 longest time between the login and the MFA failure
-- @param limit UInt32 100 rows to return
SELECT
    tenant_id,
    user_id,
    login_at,
    login_event_id,
    device_key,
    login_ip,
    login_country,
    mfa_at,
    mfa_event_id,
    mfa_ip,
    toInt64(toUInt32(mfa_at)) - toInt64(toUInt32(login_at)) AS seconds_between
FROM
(
    SELECT
        tenant_id,
        user_id,
        occurred_at AS login_at,
        occurred_at_ns AS login_ns,
        event_id AS login_event_id,
        device_key,
        ip AS login_ip,
        country AS login_country
    FROM login_events FINAL
    WHERE new_device = 1 AND outcome = 'success'
        AND occurred_at >= {from:DateTime} AND occurred_at < {to:DateTime}
) AS logins
ALL INNER JOIN
(
    SELECT
        tenant_id,
        user_id,
        occurred_at AS mfa_at,
        occurred_at_ns AS mfa_ns,
        event_id AS mfa_event_id,
        ip AS mfa_ip
    FROM login_events FINAL
    WHERE outcome = 'failure' AND failure_reason = 'mfa_failed'
        AND occurred_at >= {from:DateTime}
        AND occurred_at < {to:DateTime} + {within_minutes:UInt32} * 60
) AS mfa_failures USING (tenant_id, user_id)
WHERE (mfa_at > login_at OR (mfa_at = login_at AND mfa_ns > login_ns))
    AND mfa_at <= login_at + {within_minutes:UInt32} * 60
ORDER BY login_at, tenant_id, user_id, mfa_at, mfa_event_id
LIMIT {limit:UInt32}
