package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/features"
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
	Log        LogConfig        `yaml:"log"`
}

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
	SASLMechanism  string        `yaml:"sasl_mechanism"`
	SASLUser       string        `yaml:"sasl_user"`
	SASLPassword   Secret        `yaml:"sasl_password"`
	TLS            TLSConfig     `yaml:"tls"`
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
		DrainTimeout:  k.DrainTimeout,
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

// TokenConfig is one bearer token and its role (score, read or admin).
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
// (features.StoreConfig): at a cap the least recently seen key without
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

// storeConfig is the features.StoreConfig of the caps.
func (c StateConfig) storeConfig() features.StoreConfig {
	return features.StoreConfig{MaxUsers: c.MaxUsers, MaxAddresses: c.MaxAddresses, MaxNetworks: c.MaxNetworks, MaxDevices: c.MaxDevices}
}

// LogConfig configures slog.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // text or json
}

// Secret is a credential: in YAML either the value, or "file:PATH" to read
// it from a file, or "env:NAME" to read an environment variable. It never
// prints its value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalJSON hides the value from encoding/json (and slog's JSON
// handler).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML hides the value from YAML.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// LogValue hides the value from every slog handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Resolve reads a file: or env: reference.
func (s Secret) Resolve(field string) (Secret, error) {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return Secret(strings.TrimSpace(string(b))), nil
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", field, name)
		}
		return Secret(val), nil
	}
	return s, nil
}

// defaultConfig is the configuration before any file, env or flag.
func defaultConfig() Config {
	return Config{
		Kafka: KafkaConfig{
			GroupID: "loginrisk", EventsTopic: "login-events", DecisionsTopic: "login-decisions",
			DLQTopic: "login-events-dlq", Partitions: 6, Replication: 1, CreateTopics: true,
			MaxBatch: 500, MaxInFlight: 4, DrainTimeout: 20 * time.Second,
		},
		ClickHouse: ClickHouseConfig{Migrate: true, WarmUp: true, BatchSize: 5000, FlushInterval: 200 * time.Millisecond, MaxBuffer: 50000},
		GeoIP:      GeoIPConfig{CacheEntries: features.DefaultCacheEntries},
		Rules:      RulesConfig{Watch: true},
		HTTP:       HTTPConfig{Addr: "127.0.0.1:8080", MaxBodyBytes: 64 << 10, MetricsAuth: metricsAuthRead},
		Engine:     EngineConfig{RecentDecisions: 100_000, MaxFutureSkew: 5 * time.Minute, MaxPastSkew: 24 * time.Hour, SweepInterval: time.Minute, FeedSize: 10_000},
		State: StateConfig{
			MaxUsers: features.DefaultMaxUsers, MaxAddresses: features.DefaultMaxAddresses,
			MaxNetworks: features.DefaultMaxNetworks, MaxDevices: features.DefaultMaxDevices,
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// loadFile merges a YAML file over c; unknown keys are errors.
func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
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
	integer("LOGINRISK_KAFKA_PARTITIONS", &c.Kafka.Partitions)
	str("LOGINRISK_KAFKA_SASL_MECHANISM", &c.Kafka.SASLMechanism)
	str("LOGINRISK_KAFKA_SASL_USER", &c.Kafka.SASLUser)
	if v, ok := lookup("LOGINRISK_KAFKA_SASL_PASSWORD"); ok {
		c.Kafka.SASLPassword = Secret(v)
	}
	if v, ok := lookup("LOGINRISK_CLICKHOUSE_DSN"); ok {
		c.ClickHouse.DSN = DSN(v)
	}
	if v, ok := lookup("LOGINRISK_CLICKHOUSE_PASSWORD"); ok {
		c.ClickHouse.Password = Secret(v)
	}
	str("LOGINRISK_GEOIP_CITY", &c.GeoIP.City)
	str("LOGINRISK_GEOIP_ASN", &c.GeoIP.ASN)
	str("LOGINRISK_GEOIP_ANONYMOUS", &c.GeoIP.Anonymous)
	integer("LOGINRISK_GEOIP_CACHE_ENTRIES", &c.GeoIP.CacheEntries)
	str("LOGINRISK_RULES_DIR", &c.Rules.Dir)
	str("LOGINRISK_HTTP_ADDR", &c.HTTP.Addr)
	str("LOGINRISK_HTTP_TOKEN_FILE", &c.HTTP.TokenFile)
	str("LOGINRISK_HTTP_METRICS_ADDR", &c.HTTP.MetricsAddr)
	str("LOGINRISK_HTTP_METRICS_AUTH", &c.HTTP.MetricsAuth)
	if v, ok := lookup("LOGINRISK_HTTP_TOKEN"); ok && v != "" {
		c.HTTP.Tokens = append(c.HTTP.Tokens, TokenConfig{Name: "env", Token: Secret(v), Role: "admin"})
	}
	for _, cp := range c.State.caps() {
		integer("LOGINRISK_STATE_"+strings.ToUpper(cp.name), cp.v)
	}
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

// commonFlags are the flags every engine subcommand shares; each one, when
// set, overrides the file and the environment.
type commonFlags struct {
	config        string
	checkConfig   bool
	rules         string
	kafkaBrokers  string
	clickhouseDSN string
	geoipCity     string
	geoipASN      string
	geoipAnon     string
	httpAddr      string
	logLevel      string
}

func (cf *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.config, "config", "", "YAML configuration `file`")
	fs.BoolVar(&cf.checkConfig, "check-config", false, "validate the configuration, print what is wrong and exit")
	fs.StringVar(&cf.rules, "rules", "", "rules `dir` (default: the embedded rule set)")
	fs.StringVar(&cf.kafkaBrokers, "kafka-brokers", "", "comma-separated Kafka `brokers`")
	fs.StringVar(&cf.clickhouseDSN, "clickhouse-dsn", "", "ClickHouse `dsn` (clickhouse://host:9000/db)")
	fs.StringVar(&cf.geoipCity, "geoip-city", "", "GeoIP2 / GeoLite2 City `mmdb`")
	fs.StringVar(&cf.geoipASN, "geoip-asn", "", "GeoLite2 ASN `mmdb`")
	fs.StringVar(&cf.geoipAnon, "geoip-anonymous", "", "GeoIP2 Anonymous-IP `mmdb`")
	fs.StringVar(&cf.httpAddr, "http", "", "HTTP API listen `address` (empty string disables it)")
	fs.StringVar(&cf.logLevel, "log-level", "", "debug, info, warn or error")
}

// load builds the configuration: defaults, file, env, flags.
func (cf *commonFlags) load(fs *flag.FlagSet) (Config, error) {
	c := defaultConfig()
	if cf.config != "" {
		if err := c.loadFile(cf.config); err != nil {
			return c, err
		}
	}
	if err := c.envOverrides(os.LookupEnv); err != nil {
		return c, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rules"] {
		c.Rules.Dir = cf.rules
	}
	if set["kafka-brokers"] {
		c.Kafka.Brokers = splitList(cf.kafkaBrokers)
	}
	if set["clickhouse-dsn"] {
		c.ClickHouse.DSN = DSN(cf.clickhouseDSN)
	}
	if set["geoip-city"] {
		c.GeoIP.City = cf.geoipCity
	}
	if set["geoip-asn"] {
		c.GeoIP.ASN = cf.geoipASN
	}
	if set["geoip-anonymous"] {
		c.GeoIP.Anonymous = cf.geoipAnon
	}
	if set["http"] {
		c.HTTP.Addr = cf.httpAddr
	}
	if set["log-level"] {
		c.Log.Level = cf.logLevel
	}
	return c, nil
}

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
		if *cp.v < features.DefaultShards || *cp.v > maxStateCap {
			errs = append(errs, fmt.Errorf("state.%s: %d must be between %d (the store's shard count) and %d", cp.name, *cp.v, features.DefaultShards, maxStateCap))
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
		case "score", "read", "admin":
		default:
			errs = append(errs, fmt.Errorf("http.tokens[%d].role: %q is not one of score, read, admin", i, t.Role))
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
