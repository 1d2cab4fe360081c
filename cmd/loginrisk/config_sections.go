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

// The sections that configure the core rather than an adapter. The geoip
// and state sections are the features' own configurations
// (enrich.EnricherConfig, state.StoreConfig), which own their keys,
// defaults and checks; the others have their defaults next to them and
// a Validate naming the key by its full path.

// GeoIPConfig is the geoip section: the enricher's settings
// (enrich.EnricherConfig, which owns their defaults and checks), with
// the command's layer of test databases.
type GeoIPConfig struct {
	enrich.EnricherConfig `yaml:",inline"`
}

// namesDatabase reports whether g names at least one database. Only the
// three paths count: the other settings have defaults, so comparing the
// whole struct with its zero value would never see "not configured".
func (g GeoIPConfig) namesDatabase() bool {
	return g.CityPath != "" || g.ASNPath != "" || g.AnonymousPath != ""
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
	g.CityPath, g.ASNPath, g.AnonymousPath = test.CityPath, test.ASNPath, test.AnonymousPath
	return g
}

// describe names the databases in use for a footer or a first line:
// "city=PATH asn=PATH anonymous=PATH", or "none".
func (g GeoIPConfig) describe() string {
	var parts []string
	for _, db := range []struct{ name, path string }{{"city", g.CityPath}, {"asn", g.ASNPath}, {"anonymous", g.AnonymousPath}} {
		if db.path != "" {
			parts = append(parts, db.name+"="+db.path)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
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
	if e.SweepInterval <= 0 { // the sweep's ticker takes no other
		errs = append(errs, fmt.Errorf("engine.sweep_interval: %s must be positive", e.SweepInterval))
	}
	if e.MaxFutureSkew < 0 || e.MaxPastSkew < 0 {
		errs = append(errs, errors.New("engine.max_future_skew and engine.max_past_skew must not be negative"))
	}
	return errors.Join(errs...)
}

// StateConfig is the state section: the store's caps on the keys held
// (state.StoreConfig, which owns their defaults and checks). At a cap
// the least recently seen key without recent failures makes room, else
// the new key is not tracked.
type StateConfig struct {
	state.StoreConfig `yaml:",inline"`
}

// storeConfig is the state.StoreConfig of the section.
func (c StateConfig) storeConfig() state.StoreConfig { return c.StoreConfig }

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
