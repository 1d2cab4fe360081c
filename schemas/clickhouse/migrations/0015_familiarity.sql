-- The familiarity model's features (docs/features.md, Familiarity): the
-- combined risk and one log-likelihood ratio per attribute.
ALTER TABLE login_events
    ADD COLUMN familiarity_risk Float64,
    ADD COLUMN familiarity_network_bits Float64,
    ADD COLUMN familiarity_asn_bits Float64,
    ADD COLUMN familiarity_country_bits Float64,
    ADD COLUMN familiarity_city_bits Float64,
    ADD COLUMN familiarity_browser_bits Float64,
    ADD COLUMN familiarity_os_bits Float64,
    ADD COLUMN familiarity_device_bits Float64,
    ADD COLUMN familiarity_hour_bits Float64;
