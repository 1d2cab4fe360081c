-- Data-skipping (bloom filter) indexes on login_events for lookups that do
-- not follow its order: one event by event_id, one address, one device.
-- They apply to parts written after the migration; run
-- ALTER TABLE login_events MATERIALIZE INDEX ... to build them for older
-- parts. Skip indexes were experimental before 20.x, so older servers skip
-- this migration and keep it pending until they are upgraded.
-- requires: 20.3
ALTER TABLE login_events
    ADD INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX idx_ip ip TYPE bloom_filter(0.01) GRANULARITY 4,
    ADD INDEX idx_device_key device_key TYPE bloom_filter(0.01) GRANULARITY 4;
