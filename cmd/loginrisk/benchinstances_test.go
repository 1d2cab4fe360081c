package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestInstanceConfigKeepsSecretsOut writes the bench instances'
// configuration from one holding every kind of secret: the file holds
// none of them, only env: references, and read back with the environment
// it comes with it is the same configuration (but for the migration,
// which the bench does once).
func TestInstanceConfigKeepsSecretsOut(t *testing.T) {
	cfg := loadConfig(t, secretsConfig(t, []string{"127.0.0.1:9092"}, clickHouseDSNWithPassword(t), ""))
	path := filepath.Join(t.TempDir(), "serve.yaml")
	env, err := writeInstanceConfig(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "the instances' configuration file", string(data))
	if n := strings.Count(string(data), "env:LOGINRISK_BENCH_SECRET_"); n < 3 {
		t.Errorf("%d env: references in the file, want one per secret (SASL password, decision key, tokens):\n%s", n, data)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	back := loadConfig(t, path)
	want := cfg
	want.ClickHouse.Migrate = false
	if !reflect.DeepEqual(back, want) {
		t.Errorf("read back:\n%+v\nwant:\n%+v", back, want)
	}
}
