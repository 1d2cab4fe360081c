-- The network_hostile feature: the attempt's /24 or /64 is where an
-- analyst confirmed an attack (a confirmed_attack label) in the last 30
-- days. Rows stored before read it as 0.
ALTER TABLE login_events ADD COLUMN network_hostile UInt8;
