package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/features/state"
)

// KafkaConfig configures the stream.
type KafkaConfig struct {
	Brokers        []string      `yaml:"brokers"`
	GroupID        string        `yaml:"group_id"`
	EventsTopic    string        `yaml:"events_topic"`
	DecisionsTopic string        `yaml:"decisions_topic"`
	DLQTopic       string        `yaml:"dlq_topic"`
	Partitions     int           `yaml:"partitions"`
	Replication    int           `yaml:"replication"`
	CreateTopics   bool          `yaml:"create_topics"`
	MaxBatch       int           `yaml:"max_batch"`
	MaxInFlight    int           `yaml:"max_in_flight"`
	DrainTimeout   time.Duration `yaml:"drain_timeout"`
	// PublishBeforeHistory publishes decisions without waiting for their
	// history insert (kafkastream.Config.PublishBeforeHistory).
	PublishBeforeHistory bool      `yaml:"publish_before_history"`
	SASLMechanism        string    `yaml:"sasl_mechanism"`
	SASLUser             string    `yaml:"sasl_user"`
	SASLPassword         Secret    `yaml:"sasl_password"`
	TLS                  TLSConfig `yaml:"tls"`
	// DecisionKeys authenticate the decisions topic (HMAC-SHA-256): the
	// first signs, every one verifies. serve requires at least one, the
	// same on every instance (docs/security.md).
	DecisionKeys []DecisionKeyConfig `yaml:"decision_keys"`
}

// DecisionKeyConfig is one key of the decisions MAC: an id sent with each
// signed decision and a secret of at least 32 bytes.
type DecisionKeyConfig struct {
	ID     string `yaml:"id"`
	Secret Secret `yaml:"secret"`
}

// decisionKeys returns the configured keys in the adapter's form.
// streamConfig is the Kafka adapter's configuration of this section (TLS
// and the logger are the caller's).
func (k KafkaConfig) streamConfig() kafkastream.Config {
	return kafkastream.Config{
		Brokers: k.Brokers, GroupID: k.GroupID,
		EventsTopic: k.EventsTopic, DecisionsTopic: k.DecisionsTopic, DLQTopic: k.DLQTopic,
		Partitions: k.Partitions, Replication: k.Replication, MaxBatch: k.MaxBatch, MaxInFlight: k.MaxInFlight,
		DrainTimeout: k.DrainTimeout, PublishBeforeHistory: k.PublishBeforeHistory,
		SASLMechanism: k.SASLMechanism, SASLUser: k.SASLUser, SASLPassword: string(k.SASLPassword),
		DecisionKeys: k.decisionKeys(),
	}
}

func (k KafkaConfig) decisionKeys() []kafkastream.DecisionKey {
	out := make([]kafkastream.DecisionKey, len(k.DecisionKeys))
	for i, dk := range k.DecisionKeys {
		out[i] = kafkastream.DecisionKey{ID: dk.ID, Secret: []byte(dk.Secret)}
	}
	return out
}

// withRunDecisionKey gives a configuration without decision keys one
// random key for this process alone: for demo and bench, whose engine
// is the only reader of its decisions.
func (k *KafkaConfig) withRunDecisionKey() error {
	if len(k.DecisionKeys) > 0 {
		return nil
	}
	var b [kafkastream.MinDecisionKeyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("generating a decision key: %w", err)
	}
	k.DecisionKeys = []DecisionKeyConfig{{ID: "run-" + hex.EncodeToString(b[:3]), Secret: Secret(hex.EncodeToString(b[:]))}}
	return nil
}

// TLSConfig is a client TLS setup.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// ClickHouseConfig configures the history.
type ClickHouseConfig struct {
	DSN DSN `yaml:"dsn"`
	// Password, when set, replaces the password of the DSN's user (or
	// of the user "default"), so the DSN can live in the file and the
	// password in a file: or env: secret.
	Password      Secret        `yaml:"password"`
	Migrate       bool          `yaml:"migrate"`
	WarmUp        bool          `yaml:"warm_up"`
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	MaxBuffer     int           `yaml:"max_buffer"`
}

// GeoIPConfig names the GeoIP2 databases; each is optional.
type GeoIPConfig struct {
	City      string `yaml:"city"`
	ASN       string `yaml:"asn"`
	Anonymous string `yaml:"anonymous"`
	// CacheEntries bounds each enrichment cache (addresses, networks,
	// network names, user agents). Size it to the addresses active in a
	// day: every miss is a cache admission, about 2 µs on a small VM.
	CacheEntries int `yaml:"cache_entries"`
}

// namesDatabase reports whether g names at least one database. Only the
// three paths count: the other settings have defaults, so comparing the
// whole struct with its zero value would never see "not configured".
func (g GeoIPConfig) namesDatabase() bool {
	return g.City != "" || g.ASN != "" || g.Anonymous != ""
}

// orTestDatabases is the layer the demo, the bench and `rules test` put
// under the configuration: when no database path was given, the
// repository's generated test databases (those that exist) are used; any
// path given wins, and the other settings are kept either way.
func (g GeoIPConfig) orTestDatabases() GeoIPConfig {
	if g.namesDatabase() {
		return g
	}
	test := existingDemoGeoIP()
	g.City, g.ASN, g.Anonymous = test.City, test.ASN, test.Anonymous
	return g
}

// describe names the databases in use for a footer or a first line:
// "city=PATH asn=PATH anonymous=PATH", or "none".
func (g GeoIPConfig) describe() string {
	var parts []string
	for _, db := range []struct{ name, path string }{{"city", g.City}, {"asn", g.ASN}, {"anonymous", g.Anonymous}} {
		if db.path != "" {
			parts = append(parts, db.name+"="+db.path)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// maxCacheEntries bounds geoip.cache_entries (about 200 bytes an entry in
// each of the four caches).
const maxCacheEntries = 50_000_000

// RulesConfig names the rules folder; empty means the embedded default set.
type RulesConfig struct {
	Dir   string `yaml:"dir"`
	Watch bool   `yaml:"watch"`
}

// HTTPConfig configures the API listener.
type HTTPConfig struct {
	Addr         string        `yaml:"addr"`
	Tokens       []TokenConfig `yaml:"tokens"`
	TLSCert      string        `yaml:"tls_cert"`
	TLSKey       string        `yaml:"tls_key"`
	MaxBodyBytes int64         `yaml:"max_body_bytes"`
	// TokenFile is where the admin token generated when Tokens is empty
	// is written (mode 0600); only its path is printed. Empty:
	// $XDG_RUNTIME_DIR/loginrisk-admin-token, else
	// ~/.cache/loginrisk/admin-token (defaultTokenFile).
	TokenFile string `yaml:"token_file"`
	// MetricsAddr, when set, serves GET /metrics on a listener of its own
	// (host:port) instead of Addr.
	MetricsAddr string `yaml:"metrics_addr"`
	// MetricsAuth is who may read GET /metrics: "read" (the default) a
	// token of the read or admin role; "none" anyone, which Validate
	// allows only on a loopback listener. Rule hit counts tell an
	// attacker which rules a spray trips.
	MetricsAuth string `yaml:"metrics_auth"`
}

// The values of http.metrics_auth.
const (
	metricsAuthRead = "read"
	metricsAuthNone = "none"
)

// TokenConfig is one bearer token and its role (score, read, analyst or admin).
type TokenConfig struct {
	Name  string `yaml:"name"`
	Token Secret `yaml:"token"`
	Role  string `yaml:"role"`
}

// EngineConfig tunes the core.
type EngineConfig struct {
	RecentDecisions int           `yaml:"recent_decisions"`
	MaxFutureSkew   time.Duration `yaml:"max_future_skew"`
	MaxPastSkew     time.Duration `yaml:"max_past_skew"`
	SweepInterval   time.Duration `yaml:"sweep_interval"`
	// FeedSize is how many recent decisions, with their features, the
	// console's feed keeps when the HTTP API is on (0: no feed).
	FeedSize int `yaml:"feed_size"`
}

// StateConfig caps the keys the behavioural state holds, by kind
// (state.StoreConfig): at a cap the least recently seen key without
// recent failures makes room, else the new key is not tracked.
type StateConfig struct {
	MaxUsers     int `yaml:"max_users"`
	MaxAddresses int `yaml:"max_addresses"` // IPv4 addresses
	MaxNetworks  int `yaml:"max_networks"`  // IPv6 /64 networks
	MaxDevices   int `yaml:"max_devices"`
}

// stateCap is one of the caps, by its YAML name.
type stateCap struct {
	name string
	v    *int
}

// caps lists the caps with their YAML names, for validation and the
// LOGINRISK_STATE_* overrides.
func (c *StateConfig) caps() []stateCap {
	return []stateCap{{"max_users", &c.MaxUsers}, {"max_addresses", &c.MaxAddresses}, {"max_networks", &c.MaxNetworks}, {"max_devices", &c.MaxDevices}}
}

// maxStateCap bounds each state cap: a thousand times the default.
const maxStateCap = 1_000_000_000

// storeConfig is the state.StoreConfig of the caps.
func (c StateConfig) storeConfig() state.StoreConfig {
	return state.StoreConfig{MaxUsers: c.MaxUsers, MaxAddresses: c.MaxAddresses, MaxNetworks: c.MaxNetworks, MaxDevices: c.MaxDevices}
}

// LogConfig configures slog.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // text or json
}
