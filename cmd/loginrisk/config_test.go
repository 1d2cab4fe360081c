package main

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/features/enrich"
)

// TestGeoIPCacheEntries: geoip.cache_entries defaults to the features
// default, is read from the file and from LOGINRISK_GEOIP_CACHE_ENTRIES,
// and out-of-range values are refused naming the key.
func TestGeoIPCacheEntries(t *testing.T) {
	if got := loadYAML(t, "").GeoIP.CacheEntries; got != enrich.DefaultCacheEntries {
		t.Errorf("default cache_entries = %d, want %d", got, enrich.DefaultCacheEntries)
	}
	entries := setting{"geoip.cache_entries", "LOGINRISK_GEOIP_CACHE_ENTRIES", func(c Config) int { return c.GeoIP.CacheEntries }}
	entries.checkFileThenEnv(t, 400_000, 750_000)
	entries.checkRefused(t, "must be between 1 and", "0", "-5", "60000000")
}

// TestDecisionKeysConfig: serve refuses to start without
// kafka.decision_keys (naming the field, also under --check-config),
// secrets may come from env: and file:, two keys are accepted at once,
// bad keys are refused by name, and commands that share no decisions
// need none.
func TestDecisionKeysConfig(t *testing.T) {
	const brokers = "kafka:\n  brokers: [127.0.0.1:9092]\n"
	t.Setenv("LOGINRISK_TEST_DECISION_KEY", "from-env-0123456789abcdef0123456789")
	tests := []struct {
		name string
		cmd  string
		yaml string
		want string // "" = valid
	}{
		{"serve without keys", "serve", "", "kafka.decision_keys: at least one key is required"},
		{"serve with a key from env:", "serve", "  decision_keys: [{id: k1, secret: env:LOGINRISK_TEST_DECISION_KEY}]\n", ""},
		{"serve with two keys", "serve", "  decision_keys:\n    - {id: k2, secret: env:LOGINRISK_TEST_DECISION_KEY}\n    - {id: k1, secret: the-previous-key-0123456789abcdef}\n", ""},
		{"serve with a short key", "serve", "  decision_keys: [{id: k1, secret: short}]\n", "kafka.decision_keys[0].secret: 5 bytes, at least 32"},
		{"serve with an unset env:", "serve", "  decision_keys: [{id: k1, secret: env:LOGINRISK_TEST_UNSET_KEY}]\n", "kafka.decision_keys[0].secret: environment variable LOGINRISK_TEST_UNSET_KEY is not set"},
		{"serve with a repeated id", "serve", "  decision_keys:\n    - {id: k1, secret: env:LOGINRISK_TEST_DECISION_KEY}\n    - {id: k1, secret: env:LOGINRISK_TEST_DECISION_KEY}\n", `kafka.decision_keys[1].id: "k1" is also`},
		{"migrate without keys", "migrate", "", ""},
		{"migrate with a bad key", "migrate", "  decision_keys: [{id: k1, secret: short}]\n", "kafka.decision_keys[0].secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stderr := checkConfig(t, tc.cmd, brokers+tc.yaml, tc.want)
			if strings.Contains(stderr, "from-env-0123") || strings.Contains(stderr, "the-previous-key") {
				t.Errorf("a decision key is printed: %s", stderr)
			}
		})
	}
	t.Run("serve fails fast", func(t *testing.T) {
		_, stderr, code := runCLI(t, "", "serve", "--config", writeFile(t, "c.yaml", brokers))
		if code == 0 || !strings.Contains(stderr, "kafka.decision_keys") {
			t.Errorf("serve without keys: exit %d, %s; want a refusal naming kafka.decision_keys", code, stderr)
		}
	})
}

// TestFollowerMetricsExported: the follower's counters of decisions not
// applied reach the Prometheus registry, one series per reason.
func TestFollowerMetricsExported(t *testing.T) {
	var m kafkastream.Metrics
	m.DecisionsFollowed.Add(7)
	m.DecisionsUnsigned.Add(3)
	m.DecisionsBadMAC.Add(2)
	m.DecisionsRefused.Add(1)
	reg := prometheus.NewRegistry()
	for _, c := range followerCollectors(&m) {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			series := f.GetName()
			for _, l := range s.GetLabel() {
				series += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[series] = s.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"loginrisk_decisions_followed_total":                        7,
		"loginrisk_decisions_not_applied_total{reason=unsigned}":    3,
		"loginrisk_decisions_not_applied_total{reason=bad_mac}":     2,
		"loginrisk_decisions_not_applied_total{reason=refused}":     1,
		"loginrisk_decisions_not_applied_total{reason=undecodable}": 0,
	}
	if !maps.Equal(got, want) {
		t.Errorf("gathered %v, want %v", got, want)
	}
}

// TestREADMEConfigLoads: the configuration example of README.md is a
// configuration loginrisk reads (every key known), with the decision
// keys where serve looks for them.
func TestREADMEConfigLoads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(data), "```yaml\nkafka:\n")
	if start < 0 {
		t.Fatal("README.md has no ```yaml block starting with kafka:")
	}
	block := string(data[start+len("```yaml\n"):])
	block = block[:strings.Index(block, "```")]
	c := defaultConfig()
	if err := c.loadFile(writeFile(t, "readme.yaml", block)); err != nil {
		t.Fatalf("README.md's configuration: %v", err)
	}
	if len(c.Kafka.DecisionKeys) != 2 || c.Kafka.DecisionKeys[0].Secret != "file:/run/secrets/decision-key" {
		t.Errorf("README.md's kafka.decision_keys read as %+v, want two keys, the first from a file", c.Kafka.DecisionKeys)
	}
}

// TestKafkaSettingsCheckedOnce: --check-config refuses every wrong Kafka
// setting at once, naming each, with the adapter's own messages (the
// SASL mechanism and the topic names were once only refused when serve
// built the stream).
func TestKafkaSettingsCheckedOnce(t *testing.T) {
	yaml := "kafka:\n  brokers: [nohostport]\n  partitions: 0\n  sasl_mechanism: PLAIN\n  events_topic: \"bad topic\"\n  session_timeout: 2s\n"
	checkConfig(t, "migrate", yaml, `kafka.brokers: "nohostport" is not host:port`, "kafka.partitions: 0 must be at least 1",
		`kafka.sasl_mechanism: "PLAIN" is not one of`, `kafka topic "bad topic": invalid name`, "kafka.session_timeout: 2s is below")
}

// TestCheckConfigJoinsEverySection: --check-config runs every section's
// own Validate and prints all their problems at once, each by its key;
// the server's own checks (here the body bound above one LoginEvent) are
// refused before serve starts.
func TestCheckConfigJoinsEverySection(t *testing.T) {
	yaml := `kafka: {max_in_flight: 0}
clickhouse: {dsn: "clickhouse://127.0.0.1:9000/x", flush_interval: 0s}
geoip: {city: /nonexistent/GeoLite2-City.mmdb}
rules: {dir: /nonexistent/rules}
http: {max_body_bytes: 1048576, metrics_auth: open}
engine: {feed_size: -1, sweep_interval: 0s}
state: {max_devices: 1}
log: {format: xml}
`
	checkConfig(t, "migrate", yaml, "kafka.max_in_flight: 0 must be at least 1", "clickhouse.flush_interval: 0s must be positive",
		"geoip.city: stat /nonexistent/GeoLite2-City.mmdb", "rules.dir: stat /nonexistent/rules", "http.max_body_bytes: 1048576 is outside",
		`http.metrics_auth: "open" is not one of read, none`, "engine.feed_size: -1 must not be negative",
		"engine.sweep_interval: 0s must be positive",
		"state.max_devices: 1 must be between", `log.format: "xml" is not one of text, json`)
}

// TestForwardingSettingsChecked: --check-config refuses a partitioner,
// an advertised address and a forward timeout it could not use, naming
// each (docs/scaling.md).
func TestForwardingSettingsChecked(t *testing.T) {
	yaml := "kafka:\n  partitioner: random\n  instances_topic: \"bad topic\"\nhttp:\n  advertise: \"http://host/path\"\n  forward_timeout: 0s\n"
	checkConfig(t, "migrate", yaml, `kafka.partitioner: "random" is not one of`, `kafka topic "bad topic": invalid name`,
		`http.advertise: "http://host/path" is not host:port or http(s)://host:port`, "http.forward_timeout: 0s must be positive")
}

// TestAdvertiseURL: the address other instances forward to, configured
// or derived from the listener.
func TestAdvertiseURL(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name, configured string
		ln               net.Addr
		tls              bool
		want             string
	}{
		{"configured host:port", "10.0.0.5:8080", nil, false, "http://10.0.0.5:8080"},
		{"configured with TLS", "api-1.internal:8443", nil, true, "https://api-1.internal:8443"},
		{"configured URL", "http://api-1.internal:8080/", nil, true, "http://api-1.internal:8080"},
		{"specific listener", "", tcp("127.0.0.1:18080"), false, "http://127.0.0.1:18080"},
		{"every address", "", tcp("0.0.0.0:8080"), false, "http://" + net.JoinHostPort(host, "8080")},
		{"every IPv6 address", "", tcp("[::]:8080"), true, "https://" + net.JoinHostPort(host, "8080")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := advertiseURL(tc.configured, tc.ln, tc.tls)
			if err != nil || got != tc.want {
				t.Errorf("advertiseURL(%q, %v, %v) = %q, %v; want %q", tc.configured, tc.ln, tc.tls, got, err, tc.want)
			}
		})
	}
}

// TestClickHouseClusterConfig: clickhouse.cluster is checked, and with it
// the history connects with insert_distributed_sync=1 (an insert returns
// once the shards stored it), unless the DSN says otherwise.
func TestClickHouseClusterConfig(t *testing.T) {
	checkConfig(t, "migrate", "clickhouse:\n  cluster: \"two words\"\n", `clickhouse.cluster: "two words" must be letters, digits and underscores`)
	for _, tc := range []struct{ dsn, cluster, want string }{
		{"clickhouse://ch-1:9000/history", "", "clickhouse://ch-1:9000/history"},
		{"clickhouse://ch-1:9000/history", "lr", "clickhouse://ch-1:9000/history?insert_distributed_sync=1"},
		{"clickhouse://ch-1:9000/history?insert_distributed_sync=0", "lr", "clickhouse://ch-1:9000/history?insert_distributed_sync=0"},
	} {
		got, err := ClickHouseConfig{DSN: DSN(tc.dsn), Cluster: tc.cluster}.connString()
		if err != nil || got != tc.want {
			t.Errorf("dsn %s, cluster %q: %q, %v; want %q", tc.dsn, tc.cluster, got, err, tc.want)
		}
	}
}

// TestSecretsFromEnvironment: LOGINRISK_KAFKA_SASL_PASSWORD and
// LOGINRISK_CLICKHOUSE_PASSWORD set the two passwords over the file's.
func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("LOGINRISK_KAFKA_SASL_PASSWORD", "sasl-from-env")
	t.Setenv("LOGINRISK_CLICKHOUSE_PASSWORD", "ch-from-env")
	cfg := loadYAML(t, "kafka: {sasl_password: from-file}\nclickhouse: {password: from-file}\n")
	if cfg.Kafka.SASLPassword != "sasl-from-env" || cfg.ClickHouse.Password != "ch-from-env" {
		t.Errorf("kafka.sasl_password %q, clickhouse.password %q; want the environment's", cfg.Kafka.SASLPassword, cfg.ClickHouse.Password)
	}
}

// TestClickHouseCommandsNeedADSN: migrate and query, which have nothing
// to do without ClickHouse, refuse to run without clickhouse.dsn and say
// how to give one.
func TestClickHouseCommandsNeedADSN(t *testing.T) {
	t.Setenv("LOGINRISK_CLICKHOUSE_DSN", "")
	for _, args := range [][]string{{"migrate"}, {"query", "some_query"}} {
		_, stderr, code := runCLI(t, "", args...)
		if code != 1 || !strings.Contains(stderr, "clickhouse.dsn is required (--clickhouse-dsn or LOGINRISK_CLICKHOUSE_DSN)") {
			t.Errorf("%v without a DSN: exit %d, %s", args, code, stderr)
		}
	}
}
