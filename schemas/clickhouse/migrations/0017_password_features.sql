-- The features of the optional password fingerprint (docs/features.md):
-- counts and a flag only. The fingerprint itself (password_fp) is never
-- stored (docs/security.md).
ALTER TABLE login_events
    ADD COLUMN user_distinct_passwords_1h UInt32,
    ADD COLUMN user_distinct_passwords_24h UInt32,
    ADD COLUMN password_repeated UInt8,
    ADD COLUMN password_distinct_users_1h UInt32;
