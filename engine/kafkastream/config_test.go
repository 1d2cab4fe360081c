package kafkastream

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas/yamlconf"
)

// TestDefaultConfig: every setting but those that need none has its
// default in DefaultConfig, New fills a zero Config from it (a false
// CreateTopics, ShareAddresses or PublishBeforeHistory is a choice it
// keeps: the configuration file starts from DefaultConfig, where they are
// true), and the defaults are valid.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if got, want := defaults.Unset(d), []string{"Brokers", "TLS", "SASLMechanism", "SASLUser", "SASLPassword", "DecisionKeys", "Logger"}; !slices.Equal(got, want) {
		t.Errorf("DefaultConfig leaves %v without a default, want only %v", got, want)
	}
	var filled Config
	filled.setDefaults()
	filled.Logger, d.CreateTopics, d.ShareAddresses, d.PublishBeforeHistory = nil, false, false, false
	if !reflect.DeepEqual(filled, d) {
		t.Errorf("a zero Config is filled as\n%+v, want DefaultConfig\n%+v", filled, d)
	}
	d.Brokers = []string{"127.0.0.1:9092"}
	d.DecisionKeys = []DecisionKey{{ID: "k1", Secret: []byte(strings.Repeat("k", MinDecisionKeyBytes))}}
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig with a broker and a key: %v", err)
	}
}

// TestValidate: each wrong setting is refused naming its key by its full
// path, all of them at once.
func TestValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Brokers = []string{"127.0.0.1:9092"}
		c.DecisionKeys = []DecisionKey{{ID: "k1", Secret: []byte(strings.Repeat("k", MinDecisionKeyBytes))}}
		return c
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"SASL with its user and password", func(c *Config) { c.SASLMechanism, c.SASLUser, c.SASLPassword = "SCRAM-SHA-512", "u", "p" }, ""},
		{"no broker", func(c *Config) { c.Brokers = nil }, ErrNoBrokers.Error()},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka-1"} }, `kafka.brokers: "kafka-1" is not host:port`},
		{"no partition", func(c *Config) { c.Partitions = 0 }, "kafka.partitions: 0 must be at least 1"},
		{"empty batch", func(c *Config) { c.MaxBatch = 0 }, "kafka.max_batch: 0 must be at least 1"},
		{"nothing in flight", func(c *Config) { c.MaxInFlight = -1 }, "kafka.max_in_flight: -1 must be at least 1"},
		{"unknown SASL mechanism", func(c *Config) { c.SASLMechanism = "PLAIN" }, `kafka.sasl_mechanism: "PLAIN" is not one of`},
		{"SASL without a password", func(c *Config) { c.SASLMechanism, c.SASLUser = "SCRAM-SHA-256", "u" }, "kafka.sasl_user and kafka.sasl_password are required"},
		{"certificate without key", func(c *Config) { c.TLS.CertFile = "client.pem" }, "kafka.tls.cert_file and kafka.tls.key_file must be set together"},
		{"key without certificate", func(c *Config) { c.TLS.KeyFile = "client.key" }, "kafka.tls.cert_file and kafka.tls.key_file must be set together"},
		{"topic with a slash", func(c *Config) { c.DLQTopic = "a/b" }, `kafka.dlq_topic: kafka topic "a/b": invalid name`},
		{"no decision key", func(c *Config) { c.DecisionKeys = nil }, "kafka.decision_keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	c := good()
	c.Brokers = nil
	if err := c.Validate(); !errors.Is(err, ErrNoBrokers) {
		t.Errorf("Validate without brokers = %v, want ErrNoBrokers", err)
	}
	if err := c.ValidateSettings(); err != nil {
		t.Errorf("ValidateSettings without brokers = %v; brokers are the caller's to require", err)
	}
}

// TestConfigYAML: the section's keys are the yaml tags; the secrets are
// not keys of the adapter (the command resolves and sets them).
func TestConfigYAML(t *testing.T) {
	c, err := yamlconf.DecodeString(DefaultConfig(), "brokers: [a:1, b:2]\ngroup_id: g\nmax_in_flight: 2\ndrain_timeout: 3s\nsession_timeout: 7s\ncreate_topics: false\npublish_before_history: true\ntls: {enabled: true, ca_file: ca.pem}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Brokers) != 2 || c.GroupID != "g" || c.MaxInFlight != 2 || c.DrainTimeout.String() != "3s" || c.SessionTimeout.String() != "7s" || c.CreateTopics || !c.PublishBeforeHistory || !c.TLS.Enabled || c.TLS.CAFile != "ca.pem" {
		t.Errorf("decoded %+v", c)
	}
	if c.MaxBatch != DefaultConfig().MaxBatch {
		t.Errorf("a key not given lost its default: max_batch %d", c.MaxBatch)
	}
	for _, key := range []string{"sasl_password: x", "decision_keys: []", "logger: x"} {
		if _, err := yamlconf.DecodeString(DefaultConfig(), key+"\n"); err == nil {
			t.Errorf("%q decoded into the adapter's Config; it is the caller's", key)
		}
	}
}

// TestTLSLoad: TLS off is no TLS configuration; the files are read and
// a bad one is named by its key.
func TestTLSLoad(t *testing.T) {
	if tc, err := (TLSConfig{CAFile: "/nonexistent"}).Load(); tc != nil || err != nil {
		t.Errorf("TLS not enabled: %v, %v; want nil, nil", tc, err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  TLSConfig
		want string
	}{
		{"missing CA", TLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}, "kafka.tls.ca_file:"},
		{"CA without certificates", TLSConfig{Enabled: true, CAFile: notPEM}, "kafka.tls.ca_file: " + notPEM + " has no PEM certificates"},
		{"missing client certificate", TLSConfig{Enabled: true, CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/c.key"}, "kafka.tls.cert_file:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.Load(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want %q", err, tc.want)
			}
		})
	}
	tc, err := (TLSConfig{Enabled: true, InsecureSkipVerify: true}).Load()
	if err != nil || tc == nil || !tc.InsecureSkipVerify {
		t.Errorf("TLS enabled: %+v, %v; want a configuration that skips verification", tc, err)
	}
}
