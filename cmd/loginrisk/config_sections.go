package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
)

// The sections that configure the core rather than an adapter: each has
// its defaults next to it and a Validate naming the key by its full path.
// (The geoip and state sections map onto enrich.EnricherConfig and
// state.StoreConfig, whose own checks are looser: these are the
// configuration's.)

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

// defaultGeoIPConfig is the section before any file, env or flag: no
// database.
func defaultGeoIPConfig() GeoIPConfig {
	return GeoIPConfig{CacheEntries: enrich.DefaultCacheEntries}
}

// Validate checks the cache size and that each database named exists.
func (g GeoIPConfig) Validate() error {
	var errs []error
	if g.CacheEntries < 1 || g.CacheEntries > maxCacheEntries {
		errs = append(errs, fmt.Errorf("geoip.cache_entries: %d must be between 1 and %d", g.CacheEntries, maxCacheEntries))
	}
	for _, db := range []struct{ key, path string }{{"geoip.city", g.City}, {"geoip.asn", g.ASN}, {"geoip.anonymous", g.Anonymous}} {
		if db.path == "" {
			continue
		}
		if _, err := os.Stat(db.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", db.key, err))
		}
	}
	return errors.Join(errs...)
}

// RulesConfig names the rules folder; empty means the embedded default set.
type RulesConfig struct {
	Dir   string `yaml:"dir"`
	Watch bool   `yaml:"watch"`
}

// defaultRulesConfig is the section before any file, env or flag: the
// embedded rules, a folder given is watched.
func defaultRulesConfig() RulesConfig { return RulesConfig{Watch: true} }

// Validate checks that a folder given is one.
func (r RulesConfig) Validate() error {
	if r.Dir == "" {
		return nil
	}
	if st, err := os.Stat(r.Dir); err != nil {
		return fmt.Errorf("rules.dir: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("rules.dir: %s is not a directory", r.Dir)
	}
	return nil
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

// defaultEngineConfig is the section before any file, env or flag.
func defaultEngineConfig() EngineConfig {
	return EngineConfig{
		RecentDecisions: engine.DefaultRecentDecisions, MaxFutureSkew: 5 * time.Minute, MaxPastSkew: 24 * time.Hour,
		SweepInterval: time.Minute, FeedSize: 10_000,
	}
}

// Validate checks the section's bounds.
func (e EngineConfig) Validate() error {
	var errs []error
	if e.RecentDecisions < 1 {
		errs = append(errs, fmt.Errorf("engine.recent_decisions: %d must be at least 1", e.RecentDecisions))
	}
	if e.FeedSize < 0 {
		errs = append(errs, fmt.Errorf("engine.feed_size: %d must not be negative", e.FeedSize))
	}
	if e.MaxFutureSkew < 0 || e.MaxPastSkew < 0 {
		errs = append(errs, errors.New("engine.max_future_skew and engine.max_past_skew must not be negative"))
	}
	return errors.Join(errs...)
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

// defaultStateConfig is the section before any file, env or flag: the
// store's default caps.
func defaultStateConfig() StateConfig {
	return StateConfig{
		MaxUsers: state.DefaultMaxUsers, MaxAddresses: state.DefaultMaxAddresses,
		MaxNetworks: state.DefaultMaxNetworks, MaxDevices: state.DefaultMaxDevices,
	}
}

// Validate checks each cap: at least the store's shard count (one key a
// shard), at most maxStateCap.
func (c StateConfig) Validate() error {
	var errs []error
	for _, cp := range c.caps() {
		if *cp.v < state.DefaultShards || *cp.v > maxStateCap {
			errs = append(errs, fmt.Errorf("state.%s: %d must be between %d (the store's shard count) and %d", cp.name, *cp.v, state.DefaultShards, maxStateCap))
		}
	}
	return errors.Join(errs...)
}

// storeConfig is the state.StoreConfig of the caps.
func (c StateConfig) storeConfig() state.StoreConfig {
	return state.StoreConfig{MaxUsers: c.MaxUsers, MaxAddresses: c.MaxAddresses, MaxNetworks: c.MaxNetworks, MaxDevices: c.MaxDevices}
}

// LogConfig configures slog.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // text or json
}

// defaultLogConfig is the section before any file, env or flag.
func defaultLogConfig() LogConfig { return LogConfig{Level: "info", Format: "text"} }

// Validate checks the level and the format.
func (l LogConfig) Validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of text, json", l.Format))
	}
	return errors.Join(errs...)
}
