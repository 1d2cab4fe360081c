-- Owner-safe locks (issue 15): the user_untrusted lock scope, which locks
-- an account against every context except the user's trusted ones, and
-- the features behind it: failed second factors of the user in 15 minutes
-- and whether the attempt's device_id and network are trusted. Adding an
-- Enum8 value and columns only changes metadata; older parts read the new
-- columns as 0.
ALTER TABLE login_events
    MODIFY COLUMN lock_scope Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4, 'user_untrusted' = 5);
ALTER TABLE login_events_by_ip
    MODIFY COLUMN lock_scope Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4, 'user_untrusted' = 5);
ALTER TABLE login_events
    ADD COLUMN user_mfa_failures_15m UInt32 AFTER user_network_failures_15m,
    ADD COLUMN trusted_device UInt8 AFTER user_mfa_failures_15m,
    ADD COLUMN trusted_network UInt8 AFTER trusted_device;
