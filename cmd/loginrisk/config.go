package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas/yamlconf"
)

// Config is the whole configuration of loginrisk: defaults, then the YAML
// file, then LOGINRISK_* environment variables, then command-line flags.
type Config struct {
	Kafka      KafkaConfig      `yaml:"kafka"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	GeoIP      GeoIPConfig      `yaml:"geoip"`
	Rules      RulesConfig      `yaml:"rules"`
	HTTP       HTTPConfig       `yaml:"http"`
	Engine     EngineConfig     `yaml:"engine"`
	State      StateConfig      `yaml:"state"`
	Runtime    RuntimeConfig    `yaml:"runtime"`
	Log        LogConfig        `yaml:"log"`
}

// defaultConfig is the configuration before any file, env or flag: each
// section's defaults, which the section's owner writes.
func defaultConfig() Config {
	return Config{
		Kafka:      KafkaConfig{Config: kafkastream.DefaultConfig()},
		ClickHouse: defaultClickHouseConfig(),
		GeoIP:      GeoIPConfig{enrich.DefaultConfig()},
		Rules:      defaultRulesConfig(),
		HTTP:       defaultHTTPConfig(),
		Engine:     defaultEngineConfig(),
		State:      StateConfig{state.DefaultConfig()},
		Runtime:    defaultRuntimeConfig(),
		Log:        defaultLogConfig(),
	}
}

// resolveSecrets replaces file: and env: references with their values.
func (c *Config) resolveSecrets() error {
	return errors.Join(c.Kafka.resolveSecrets(), c.ClickHouse.resolveSecrets(), c.HTTP.resolveSecrets())
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

// Validate checks every section with the section's own Validate and
// returns all problems.
func (c *Config) Validate(need needs) error {
	return errors.Join(
		c.Kafka.validate(need),
		c.ClickHouse.Validate(),
		c.GeoIP.Validate(),
		c.Rules.Validate(),
		c.HTTP.Validate(),
		c.Engine.Validate(),
		c.State.Validate(),
		c.Runtime.Validate(),
		c.Log.Validate(),
	)
}

// loadFile merges a YAML file over c; unknown keys are errors.
func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	if err := yamlconf.Decode(f, c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// envOverrides maps LOGINRISK_* variables onto the configuration.
func (c *Config) envOverrides(lookup func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	secret := func(name string, dst *Secret) {
		if v, ok := lookup(name); ok {
			*dst = Secret(v)
		}
	}
	var errs []error
	integer := func(name string, dst *int) {
		if v, ok := lookup(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
				return
			}
			*dst = n
		}
	}
	if v, ok := lookup("LOGINRISK_KAFKA_BROKERS"); ok {
		c.Kafka.Brokers = splitList(v)
	}
	str("LOGINRISK_KAFKA_GROUP_ID", &c.Kafka.GroupID)
	str("LOGINRISK_KAFKA_EVENTS_TOPIC", &c.Kafka.EventsTopic)
	str("LOGINRISK_KAFKA_DECISIONS_TOPIC", &c.Kafka.DecisionsTopic)
	str("LOGINRISK_KAFKA_DLQ_TOPIC", &c.Kafka.DLQTopic)
	str("LOGINRISK_KAFKA_INSTANCES_TOPIC", &c.Kafka.InstancesTopic)
	str("LOGINRISK_KAFKA_PARTITIONER", &c.Kafka.Partitioner)
	str("LOGINRISK_KAFKA_ADDRESSES_TOPIC", &c.Kafka.AddressesTopic)
	integer("LOGINRISK_KAFKA_PARTITIONS", &c.Kafka.Partitions)
	str("LOGINRISK_KAFKA_SASL_MECHANISM", &c.Kafka.SASLMechanism)
	str("LOGINRISK_KAFKA_SASL_USER", &c.Kafka.SASLUser)
	secret("LOGINRISK_KAFKA_SASL_PASSWORD", &c.Kafka.SASLPassword)
	if v, ok := lookup("LOGINRISK_CLICKHOUSE_DSN"); ok {
		c.ClickHouse.DSN = DSN(v)
	}
	str("LOGINRISK_CLICKHOUSE_CLUSTER", &c.ClickHouse.Cluster)
	secret("LOGINRISK_CLICKHOUSE_PASSWORD", &c.ClickHouse.Password)
	str("LOGINRISK_GEOIP_CITY", &c.GeoIP.CityPath)
	str("LOGINRISK_GEOIP_ASN", &c.GeoIP.ASNPath)
	str("LOGINRISK_GEOIP_ANONYMOUS", &c.GeoIP.AnonymousPath)
	integer("LOGINRISK_GEOIP_CACHE_ENTRIES", &c.GeoIP.CacheEntries)
	str("LOGINRISK_RULES_DIR", &c.Rules.Dir)
	str("LOGINRISK_HTTP_ADDR", &c.HTTP.Addr)
	str("LOGINRISK_HTTP_TOKEN_FILE", &c.HTTP.TokenFile)
	str("LOGINRISK_HTTP_ADVERTISE", &c.HTTP.Advertise)
	str("LOGINRISK_HTTP_METRICS_ADDR", &c.HTTP.MetricsAddr)
	str("LOGINRISK_HTTP_METRICS_AUTH", &c.HTTP.MetricsAuth)
	if v, ok := lookup("LOGINRISK_HTTP_TOKEN"); ok && v != "" {
		c.HTTP.Tokens = append(c.HTTP.Tokens, TokenConfig{Name: "env", Token: Secret(v), Role: "admin"})
	}
	integer("LOGINRISK_STATE_MAX_USERS", &c.State.MaxUsers)
	integer("LOGINRISK_STATE_MAX_ADDRESSES", &c.State.MaxAddresses)
	integer("LOGINRISK_STATE_MAX_NETWORKS", &c.State.MaxNetworks)
	integer("LOGINRISK_STATE_MAX_DEVICES", &c.State.MaxDevices)
	str("LOGINRISK_LOG_LEVEL", &c.Log.Level)
	str("LOGINRISK_LOG_FORMAT", &c.Log.Format)
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
