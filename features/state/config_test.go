package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/schemas/yamlconf"
)

// TestDefaultConfig: every setting has its default in DefaultConfig,
// NewStore's filling of a zero StoreConfig gives DefaultConfig, and the
// defaults are valid.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	want := StoreConfig{
		Shards: DefaultShards, ProfileRetention: DefaultProfileRetention,
		MaxUsers: DefaultMaxUsers, MaxAddresses: DefaultMaxAddresses, MaxNetworks: DefaultMaxNetworks, MaxDevices: DefaultMaxDevices,
	}
	if d != want {
		t.Errorf("DefaultConfig = %+v, want %+v", d, want)
	}
	if filled := (StoreConfig{}).withDefaults(); filled != d {
		t.Errorf("a zero StoreConfig is filled as %+v, want DefaultConfig %+v", filled, d)
	}
	if kept := (StoreConfig{MaxUsers: 512}).withDefaults(); kept.MaxUsers != 512 || kept.MaxDevices != DefaultMaxDevices {
		t.Errorf("StoreConfig{MaxUsers: 512} is filled as %+v, want its cap kept and the others defaulted", kept)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

// TestValidateNamesKeys: each cap of the state section is refused by its
// full key, below the shard count (ErrCapTooSmall) or above MaxCap,
// every problem at once.
func TestValidateNamesKeys(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*StoreConfig)
		want  []string // nil = valid
		small bool     // wraps ErrCapTooSmall
	}{
		{"defaults", func(*StoreConfig) {}, nil, false},
		{"the bounds themselves", func(c *StoreConfig) { c.MaxUsers, c.MaxDevices = c.Shards, MaxCap }, nil, false},
		{"users below the shards", func(c *StoreConfig) { c.MaxUsers = 100 }, []string{"state.max_users: 100 must be between 256 (the shard count) and 1000000000"}, true},
		{"addresses at zero", func(c *StoreConfig) { c.MaxAddresses = 0 }, []string{"state.max_addresses: 0 must be between 256"}, true},
		{"networks above the bound", func(c *StoreConfig) { c.MaxNetworks = MaxCap + 1 }, []string{"state.max_networks: 1000000001 must be between 256"}, false},
		{"devices negative", func(c *StoreConfig) { c.MaxDevices = -1 }, []string{"state.max_devices: -1 must be between"}, true},
		{"shards", func(c *StoreConfig) { c.Shards = 3 }, []string{"state: shards 3 must be a power of two"}, false},
		{"profile retention", func(c *StoreConfig) { c.ProfileRetention = time.Hour }, []string{"state: profile retention 1h0m0s must be at least"}, false},
		{"all at once", func(c *StoreConfig) { c.MaxUsers, c.MaxDevices, c.ProfileRetention = 1, 2_000_000_000, time.Hour },
			[]string{"state.max_users: 1", "state.max_devices: 2000000000", "state: profile retention"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			featuretest.WantErrors(t, err, tc.want)
			if got := errors.Is(err, ErrCapTooSmall); got != tc.small {
				t.Errorf("errors.Is(%v, ErrCapTooSmall) = %v, want %v", err, got, tc.small)
			}
		})
	}
	if _, err := NewStore(StoreConfig{MaxNetworks: MaxCap + 1}); err == nil || !strings.Contains(err.Error(), "state.max_networks") {
		t.Errorf("NewStore with a cap above MaxCap: %v, want it refused by its key", err)
	}
}

// TestConfigYAML: the keys of the state section are the caps' yaml
// tags, a key not given keeps its default, and the shards and the
// profile retention are the caller's.
func TestConfigYAML(t *testing.T) {
	c, err := yamlconf.DecodeString(DefaultConfig(), "max_users: 1000\nmax_addresses: 2000\nmax_networks: 3000\nmax_devices: 4000\n")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.MaxUsers, want.MaxAddresses, want.MaxNetworks, want.MaxDevices = 1000, 2000, 3000, 4000
	if c != want {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
	if c, err = yamlconf.DecodeString(DefaultConfig(), "max_devices: 512\n"); err != nil || c.MaxDevices != 512 || c.MaxUsers != DefaultMaxUsers {
		t.Errorf("max_devices: 512 decoded as %+v, %v", c, err)
	}
	for _, key := range []string{"shards: 16", "profile_retention: 48h", "maxusers: 5"} {
		if _, err := yamlconf.DecodeString(DefaultConfig(), key+"\n"); err == nil {
			t.Errorf("%q decoded into StoreConfig; it is not a key of the state section", key)
		}
	}
}
