package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/engine/testkit/syncbuf"
)

// The secrets of TestSecretsNeverPrinted: an HTTP token read from a file,
// a Kafka SASL password read from the environment, a ClickHouse password in
// the DSN, a decision key read from a file.
const (
	secretDecisionKey = "decision-key-from-file-3e8a1c5b7d9f0246"
	secretToken       = "tok-from-file-7c1d9e2a4b"
	secretSASL        = "sasl-from-env-5f3a8b0d"
	secretClickHouse  = "ch-in-dsn-91be4c7f"
	saslEnv           = "LOGINRISK_TEST_SASL_PASSWORD"
)

// secretsConfig writes a configuration holding the three secrets (and
// extra YAML appended) and returns its path.
func secretsConfig(t *testing.T, brokers []string, dsn, extra string) string {
	t.Helper()
	tokenFile := writeFile(t, "token", secretToken+"\n")
	keyFile := writeFile(t, "decision-key", secretDecisionKey+"\n")
	t.Setenv(saslEnv, secretSASL)
	name := testkit.Name("secrets")
	cfg := kafkaSection(brokers, name) + fmt.Sprintf(`  addresses_topic: %s-addresses
  create_topics: false
  sasl_mechanism: SCRAM-SHA-512
  sasl_user: loginrisk
  sasl_password: env:%s
  decision_keys:
    - {id: k1, secret: "file:%s"}
clickhouse:
  dsn: %q
http:
  addr: 127.0.0.1:0
  tokens:
    - {name: gateway, token: "file:%s", role: score}
log:
  level: debug
%s`, name, saslEnv, keyFile, dsn, tokenFile, extra)
	return writeFile(t, "loginrisk.yaml", cfg)
}

// clickHouseDSNWithPassword returns the test ClickHouse's DSN (or a local
// default) with the secret password in it.
func clickHouseDSNWithPassword(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("CLICKHOUSE_DSN")
	if dsn == "" {
		dsn = "clickhouse://127.0.0.1:9000/default"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("default", secretClickHouse)
	return u.String()
}

// assertNoSecrets fails when any secret appears in out.
func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{secretToken, secretSASL, secretClickHouse, secretDecisionKey} {
		if strings.Contains(out, s) {
			t.Errorf("%s prints the secret %q:\n%s", what, s, out)
		}
	}
}

// TestSecretsNeverPrinted runs what prints or logs the configuration and
// its errors — --check-config, the effective configuration formatted or
// logged, serve's start-up and failures, migrate's failure — with a token,
// a SASL password and a ClickHouse password configured, and requires that
// none of them appears, while their presence shows as [redacted].
func TestSecretsNeverPrinted(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	dsn := clickHouseDSNWithPassword(t)

	t.Run("check-config valid", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, "", "serve", "--config", secretsConfig(t, brokers, dsn, ""), "--check-config")
		if code != 0 || !strings.Contains(stderr, "configuration is valid") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
		assertNoSecrets(t, "--check-config", stdout+stderr)
	})

	t.Run("check-config invalid", func(t *testing.T) {
		// A DSN of the wrong scheme is quoted in the error, password
		// redacted; a token too short is named, not quoted.
		badDSN := strings.Replace(dsn, "clickhouse://", "http://", 1)
		extra := "engine: {recent_decisions: 0}\n"
		path := secretsConfig(t, brokers, badDSN, extra)
		data, _ := os.ReadFile(path)
		data = bytes.Replace(data, []byte(`role: score}`), []byte(`role: score}
    - {name: short, token: "`+secretSASL[:12]+`", role: read}`), 1)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI(t, "", "serve", "--config", path, "--check-config")
		out := stdout + stderr
		if code != 1 || !strings.Contains(out, "clickhouse.dsn") || !strings.Contains(out, "http.tokens[1].token: must be at least 16 characters") {
			t.Fatalf("exit %d, output %s", code, out)
		}
		if !strings.Contains(out, "default:[redacted]@") {
			t.Errorf("the DSN's password is not shown as redacted:\n%s", out)
		}
		assertNoSecrets(t, "--check-config", out)
		if strings.Contains(out, secretSASL[:12]) {
			t.Errorf("--check-config quotes the short token:\n%s", out)
		}
	})

	t.Run("effective configuration formatted and logged", func(t *testing.T) {
		cfg := loadConfig(t, secretsConfig(t, brokers, dsn, ""))
		if string(cfg.Kafka.SASLPassword) != secretSASL || string(cfg.HTTP.Tokens[0].Token) != secretToken || string(cfg.Kafka.DecisionKeys[0].Secret) != secretDecisionKey {
			t.Fatalf("the file: and env: references were not resolved: %q %q %q", cfg.Kafka.SASLPassword, cfg.HTTP.Tokens[0].Token, cfg.Kafka.DecisionKeys[0].Secret)
		}
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("configuration", "config", cfg)
		for what, out := range map[string]string{"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "slog": logged.String()} {
			if strings.Count(out, "[redacted]") != 4 {
				t.Errorf("%s of the configuration does not show the SASL password, the decision key, the token and the DSN's password as [redacted]:\n%s", what, out)
			}
			assertNoSecrets(t, what+" of the configuration", out)
		}
	})

	t.Run("serve start-up and failures", func(t *testing.T) {
		// SCRAM against the test broker fails: serve starts, retries and
		// logs Kafka errors at debug level until stopped. No DSN: history
		// is covered by the migrate case.
		path := secretsConfig(t, brokers, "", "")
		data, _ := os.ReadFile(path)
		if err := os.WriteFile(path, bytes.Replace(data, []byte(`dsn: ""`), []byte(`dsn: ""`+"\n  migrate: false"), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		// Locked buffers: kafka-go's retrying goroutines may still log a
		// line while serve returns (seen once under -race).
		stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
		err := cmdServe(ctx, []string{"--config", path}, strings.NewReader(""), stdout, stderr)
		out := stdout.String() + stderr.String()
		if !strings.Contains(out, "http: API on") || !strings.Contains(out, "loginrisk serving") {
			t.Fatalf("serve did not start (err %v):\n%s", err, out)
		}
		assertNoSecrets(t, "serve", out)
	})

	t.Run("migrate failure", func(t *testing.T) {
		testkit.ClickHouse(t)
		stdout, stderr, code := runCLI(t, "", "migrate", "--config", secretsConfig(t, brokers, dsn, ""))
		out := stdout + stderr
		if code == 0 || !strings.Contains(out, "password") {
			t.Fatalf("migrate with a wrong password: exit %d, output %s", code, out)
		}
		assertNoSecrets(t, "migrate", out)
	})
}

// TestCheckConfigHTTPExposure checks the --check-config rule for the HTTP
// listener: beyond loopback it needs tokens.
func TestCheckConfigHTTPExposure(t *testing.T) {
	tokens := "http:\n  tokens:\n    - {name: gw, token: 0123456789abcdef01, role: score}\n"
	tests := []struct {
		name, addr, yaml string
		wantValid        bool
	}{
		{name: "all interfaces without tokens", addr: "0.0.0.0:8080"},
		{name: "all interfaces, empty host, without tokens", addr: ":8080"},
		{name: "a public address without tokens", addr: "203.0.113.5:8080"},
		{name: "IPv6 any without tokens", addr: "[::]:8080"},
		{name: "all interfaces with tokens", addr: "0.0.0.0:8080", yaml: tokens, wantValid: true},
		{name: "IPv4 loopback without tokens", addr: "127.0.0.1:8080", wantValid: true},
		{name: "IPv6 loopback without tokens", addr: "[::1]:8080", wantValid: true},
		{name: "localhost without tokens", addr: "localhost:8080", wantValid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := "listens beyond loopback but http.tokens is empty"
			if tc.wantValid {
				want = ""
			}
			checkConfig(t, "migrate --http "+tc.addr, tc.yaml, want)
		})
	}
}

// TestClickHouseTLSFromDSN documents how ClickHouse TLS is configured: by
// the DSN's secure and skip_verify parameters, which clickhouse-go turns
// into a TLS configuration that the history adapter passes on.
func TestClickHouseTLSFromDSN(t *testing.T) {
	tests := []struct {
		dsn        string
		wantTLS    bool
		wantVerify bool
	}{
		{dsn: "clickhouse://ch.example.com:9440/loginrisk?secure=true", wantTLS: true, wantVerify: true},
		{dsn: "clickhouse://ch.example.com:9440/loginrisk?secure=true&skip_verify=true", wantTLS: true},
		{dsn: "clickhouse://ch.example.com:9000/loginrisk"},
	}
	for _, tc := range tests {
		checkConfig(t, "migrate", fmt.Sprintf("clickhouse: {dsn: %q}\n", tc.dsn))
		opts, err := clickhouse.ParseDSN(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		if (opts.TLS != nil) != tc.wantTLS || (opts.TLS != nil && opts.TLS.InsecureSkipVerify == tc.wantVerify) {
			t.Errorf("%s: TLS %+v, want TLS %v verifying %v", tc.dsn, opts.TLS, tc.wantTLS, tc.wantVerify)
		}
	}
}

// The ClickHouse password can live apart from the DSN, in a file: or env:
// secret, and is then part of the DSN the writer uses — and of nothing
// printed.
func TestClickHousePasswordSecret(t *testing.T) {
	const password = "ch-pass-7f3a9c2e41"
	tests := []struct {
		name, dsn, password, env string
		want                     string
	}{
		{name: "env secret, user in dsn", dsn: "clickhouse://loginrisk@ch-1:9000/history", password: "env:TEST_CH_PASSWORD", env: password,
			want: "clickhouse://loginrisk:" + password + "@ch-1:9000/history"},
		{name: "value, no user", dsn: "clickhouse://ch-1:9000/history?secure=true", password: password,
			want: "clickhouse://default:" + password + "@ch-1:9000/history?secure=true"},
		{name: "replaces the dsn's password", dsn: "clickhouse://loginrisk:old@ch-1:9000/history", password: password,
			want: "clickhouse://loginrisk:" + password + "@ch-1:9000/history"},
		{name: "no password: dsn kept", dsn: "clickhouse://loginrisk:old@ch-1:9000/history",
			want: "clickhouse://loginrisk:old@ch-1:9000/history"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TEST_CH_PASSWORD", tc.env)
			cfg := loadYAML(t, fmt.Sprintf("clickhouse:\n  dsn: %q\n  password: %q\n", tc.dsn, tc.password))
			if got, err := cfg.ClickHouse.connString(); err != nil || got != tc.want {
				t.Errorf("connection dsn = %q (%v), want %q", got, err, tc.want)
			}
			if tc.password == "" {
				return
			}
			js, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("configuration", "password", cfg.ClickHouse.Password)
			for what, out := range map[string]string{
				"%#v of the password": fmt.Sprintf("%#v", cfg.ClickHouse.Password),
				"JSON of the password": func() string {
					b, _ := json.Marshal(cfg.ClickHouse.Password)
					return string(b)
				}(),
				"JSON slog":                 logged.String(),
				"the DSN":                   cfg.ClickHouse.DSN.String(),
				"JSON of the configuration": string(js),
				"%+v of the configuration":  fmt.Sprintf("%+v", cfg),
			} {
				if strings.Contains(out, password) {
					t.Errorf("%s shows the password: %s", what, out)
				}
			}
		})
	}
	t.Run("unset env", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.ClickHouse.DSN = "clickhouse://ch-1:9000/history"
		cfg.ClickHouse.Password = "env:TEST_CH_PASSWORD_UNSET"
		if err := cfg.resolveSecrets(); err == nil || !strings.Contains(err.Error(), "clickhouse.password") {
			t.Errorf("err = %v, want one naming clickhouse.password", err)
		}
	})
}
