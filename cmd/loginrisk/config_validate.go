package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/features/state"
)

// resolveSecrets replaces file: and env: references with their values.
func (c *Config) resolveSecrets() error {
	var errs []error
	var err error
	if c.Kafka.SASLPassword, err = c.Kafka.SASLPassword.Resolve("kafka.sasl_password"); err != nil {
		errs = append(errs, err)
	}
	for i := range c.HTTP.Tokens {
		if c.HTTP.Tokens[i].Token, err = c.HTTP.Tokens[i].Token.Resolve(fmt.Sprintf("http.tokens[%d].token", i)); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range c.Kafka.DecisionKeys {
		if c.Kafka.DecisionKeys[i].Secret, err = c.Kafka.DecisionKeys[i].Secret.Resolve(fmt.Sprintf("kafka.decision_keys[%d].secret", i)); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ClickHouse.Password, err = c.ClickHouse.Password.Resolve("clickhouse.password"); err != nil {
		errs = append(errs, err)
	} else if _, err := c.ClickHouse.connString(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// needs says what a subcommand requires of the configuration beyond
// what is always checked.
type needs uint8

const (
	// needKafka: brokers (serve, produce).
	needKafka needs = 1 << iota
	// needDecisionKeys: kafka.decision_keys (serve, which publishes and
	// follows decisions with other instances).
	needDecisionKeys
)

// Validate checks every section and returns all problems.
func (c *Config) Validate(need needs) error {
	var errs []error
	if need&needKafka != 0 && len(c.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one broker is required (--kafka-brokers or LOGINRISK_KAFKA_BROKERS)"))
	}
	// Keys given are always checked; none is an error only where
	// decisions are shared between processes.
	if len(c.Kafka.DecisionKeys) > 0 || need&needDecisionKeys != 0 {
		if err := kafkastream.ValidateDecisionKeys(c.Kafka.decisionKeys()); err != nil {
			errs = append(errs, err)
		}
	}
	sc := c.Kafka.streamConfig()
	errs = append(errs, sc.ValidateSettings())
	if c.Kafka.TLS.CertFile != "" && c.Kafka.TLS.KeyFile == "" || c.Kafka.TLS.CertFile == "" && c.Kafka.TLS.KeyFile != "" {
		errs = append(errs, errors.New("kafka.tls.cert_file and kafka.tls.key_file must be set together"))
	}
	if dsn := string(c.ClickHouse.DSN); dsn != "" && !strings.HasPrefix(dsn, "clickhouse://") && !strings.HasPrefix(dsn, "tcp://") {
		errs = append(errs, fmt.Errorf("clickhouse.dsn: %q must start with clickhouse:// (the native protocol)", c.ClickHouse.DSN))
	}
	if c.ClickHouse.BatchSize < 1 || c.ClickHouse.MaxBuffer < c.ClickHouse.BatchSize {
		errs = append(errs, fmt.Errorf("clickhouse.batch_size (%d) must be at least 1 and at most clickhouse.max_buffer (%d)", c.ClickHouse.BatchSize, c.ClickHouse.MaxBuffer))
	}
	if c.ClickHouse.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse.flush_interval: %s must be positive", c.ClickHouse.FlushInterval))
	}
	if c.GeoIP.CacheEntries < 1 || c.GeoIP.CacheEntries > maxCacheEntries {
		errs = append(errs, fmt.Errorf("geoip.cache_entries: %d must be between 1 and %d", c.GeoIP.CacheEntries, maxCacheEntries))
	}
	for name, path := range map[string]string{"geoip.city": c.GeoIP.City, "geoip.asn": c.GeoIP.ASN, "geoip.anonymous": c.GeoIP.Anonymous} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if c.Rules.Dir != "" {
		if st, err := os.Stat(c.Rules.Dir); err != nil {
			errs = append(errs, fmt.Errorf("rules.dir: %w", err))
		} else if !st.IsDir() {
			errs = append(errs, fmt.Errorf("rules.dir: %s is not a directory", c.Rules.Dir))
		}
	}
	errs = append(errs, c.HTTP.validate()...)
	if c.Engine.RecentDecisions < 1 {
		errs = append(errs, fmt.Errorf("engine.recent_decisions: %d must be at least 1", c.Engine.RecentDecisions))
	}
	if c.Engine.FeedSize < 0 {
		errs = append(errs, fmt.Errorf("engine.feed_size: %d must not be negative", c.Engine.FeedSize))
	}
	if c.Engine.MaxFutureSkew < 0 || c.Engine.MaxPastSkew < 0 {
		errs = append(errs, errors.New("engine.max_future_skew and engine.max_past_skew must not be negative"))
	}
	for _, cp := range c.State.caps() {
		if *cp.v < state.DefaultShards || *cp.v > maxStateCap {
			errs = append(errs, fmt.Errorf("state.%s: %d must be between %d (the store's shard count) and %d", cp.name, *cp.v, state.DefaultShards, maxStateCap))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", c.Log.Format))
	}
	return errors.Join(errs...)
}

func (h *HTTPConfig) validate() []error {
	var errs []error
	if h.Addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(h.Addr)
	if err != nil {
		return []error{fmt.Errorf("http.addr: %q is not host:port", h.Addr)}
	}
	for i, t := range h.Tokens {
		switch t.Role {
		case "score", "read", "analyst", "admin":
		default:
			errs = append(errs, fmt.Errorf("http.tokens[%d].role: %q is not one of score, read, analyst, admin", i, t.Role))
		}
		if len(t.Token) < 16 {
			errs = append(errs, fmt.Errorf("http.tokens[%d].token: must be at least 16 characters", i))
		}
	}
	loopback := isLoopback(host)
	if !loopback && len(h.Tokens) == 0 {
		errs = append(errs, fmt.Errorf("http.addr: %s listens beyond loopback but http.tokens is empty; add tokens or listen on 127.0.0.1", h.Addr))
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		errs = append(errs, errors.New("http.tls_cert and http.tls_key must be set together"))
	}
	metricsField, metricsAddr, metricsLoopback := "http.addr", h.Addr, loopback
	if h.MetricsAddr != "" {
		metricsField, metricsAddr = "http.metrics_addr", h.MetricsAddr
		if host, _, err := net.SplitHostPort(h.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("http.metrics_addr: %q is not host:port", h.MetricsAddr))
		} else {
			metricsLoopback = isLoopback(host)
		}
	}
	switch h.MetricsAuth {
	case metricsAuthRead:
	case metricsAuthNone:
		if !metricsLoopback {
			errs = append(errs, fmt.Errorf("http.metrics_auth: none serves the metrics (rule hit counts among them) to anyone, but %s %s listens beyond loopback; use read (a token of the read role) or a loopback http.metrics_addr", metricsField, metricsAddr))
		}
	default:
		errs = append(errs, fmt.Errorf("http.metrics_auth: %q is not one of read, none", h.MetricsAuth))
	}
	if h.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("http.max_body_bytes: %d must be at least 1024", h.MaxBodyBytes))
	}
	return errs
}

// isLoopback reports whether a listener's host (name or address) is
// loopback only: localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
