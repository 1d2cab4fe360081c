package history

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas/yamlconf"
)

// TestDefaultConfig: every setting but the connection and the logger has
// its default in DefaultConfig, New fills a zero Config from it, and the
// defaults are valid.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if got, want := defaults.Unset(d), []string{"DSN", "Logger"}; !slices.Equal(got, want) {
		t.Errorf("DefaultConfig leaves %v without a default, want only %v", got, want)
	}
	var filled Config
	filled.setDefaults()
	filled.Logger = nil
	if filled != d {
		t.Errorf("a zero Config is filled as\n%+v, want DefaultConfig\n%+v", filled, d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

// TestValidateNamesKeys: the settings of the clickhouse section are
// refused by their full key, every problem at once.
func TestValidateNamesKeys(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string // nil = valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"batch of zero", func(c *Config) { c.BatchSize = 0 }, []string{"clickhouse.batch_size: 0 must be at least 1"}},
		{"buffer below batch", func(c *Config) { c.BatchSize, c.MaxBuffer = 5000, 4999 }, []string{"clickhouse.max_buffer: 4999 must be at least clickhouse.batch_size (5000)"}},
		{"flush never", func(c *Config) { c.FlushInterval = 0 }, []string{"clickhouse.flush_interval: 0s must be positive"}},
		{"two at once", func(c *Config) { c.FlushInterval, c.BatchSize = -time.Second, -1 }, []string{"clickhouse.flush_interval: -1s", "clickhouse.batch_size: -1"}},
		{"timeouts", func(c *Config) { c.InsertTimeout = 0 }, []string{"insert and drain timeouts must be positive"}},
		{"source", func(c *Config) { c.Source = "fax" }, []string{`source "fax"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil && err != nil || tc.want != nil && err == nil {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, lacks %q", err, w)
				}
			}
		})
	}
}

// TestConfigYAML: the writer's keys of the clickhouse section are its
// yaml tags; the connection and the logger are the caller's.
func TestConfigYAML(t *testing.T) {
	c, err := yamlconf.DecodeString(DefaultConfig(), "batch_size: 10\nflush_interval: 1s\nmax_buffer: 100\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 10 || c.FlushInterval != time.Second || c.MaxBuffer != 100 || c.InsertTimeout != DefaultConfig().InsertTimeout {
		t.Errorf("decoded %+v", c)
	}
	for _, key := range []string{"dsn: clickhouse://x:9000/db", "logger: x", "source: http"} {
		if _, err := yamlconf.DecodeString(DefaultConfig(), key+"\n"); err == nil {
			t.Errorf("%q decoded into the writer's Config; it is the caller's", key)
		}
	}
}
