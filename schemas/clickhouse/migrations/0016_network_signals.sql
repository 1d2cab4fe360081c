-- Network signals and long horizons (issue 15, point 5): the network lock
-- scope, which locks every address of an IPv4 /24 or IPv6 /64. Adding an
-- Enum8 value only changes metadata.
ALTER TABLE login_events
    MODIFY COLUMN lock_scope Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4, 'user_untrusted' = 5, 'network' = 6);
ALTER TABLE login_events_by_ip
    MODIFY COLUMN lock_scope Enum8('' = 0, 'user' = 1, 'ip' = 2, 'user_ip' = 3, 'device' = 4, 'user_untrusted' = 5, 'network' = 6);
