-- Where each event was read from the events topic (docs/scaling.md, "State
-- follows its partition"): a partition's new owner after a rebalance
-- reads the rows of that partition past the offset it has applied, so
-- that the users of the moved partition are scored on all their history.
-- -1 in both for a row that did not come from Kafka (the HTTP API, an
-- administrator's action); older parts read the default.
ALTER TABLE login_events
    ADD COLUMN kafka_partition Int32 DEFAULT -1,
    ADD COLUMN kafka_offset Int64 DEFAULT -1;
