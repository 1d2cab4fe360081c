-- Network signals and long horizons (issue 15, point 5): the network lock
-- scope, which locks every address of an IPv4 /24 or IPv6 /64. Adding an
-- Enum8 value only changes metadata. (login_events_by_ip, which had the
-- column too, is gone since 0016.)
ALTER TABLE login_events
    MODIFY COLUMN lock_scope Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4, 'user_untrusted' = 5, 'network' = 6);
-- The features behind it: per network and ASN the hour's attempts and
-- success ratio and the week's failures; per account and network the
-- week's failures and successes; per address and network the users who
-- succeeded on a device they are known to use. Rows written before this
-- migration read 0 for them.
ALTER TABLE login_events
    ADD COLUMN user_network_failures_7d  UInt32,
    ADD COLUMN user_network_successes_7d UInt32,
    ADD COLUMN ip_known_device_users_7d  UInt32,
    ADD COLUMN net_attempts_1h           UInt32,
    ADD COLUMN net_success_ratio_1h      Float64,
    ADD COLUMN net_failures_7d           UInt32,
    ADD COLUMN net_known_device_users_7d UInt32,
    ADD COLUMN asn_attempts_1h           UInt32,
    ADD COLUMN asn_success_ratio_1h      Float64,
    ADD COLUMN asn_failures_7d           UInt32;
