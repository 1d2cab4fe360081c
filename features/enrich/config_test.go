package enrich

import (
	"path/filepath"
	"testing"

	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/schemas/yamlconf"
)

// TestDefaultConfig: the cache size has its default in DefaultConfig,
// NewEnricher's filling of a zero Config gives DefaultConfig, and the
// defaults are valid.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if d.CacheEntries != DefaultCacheEntries || d.CityPath != "" || d.ASNPath != "" || d.AnonymousPath != "" {
		t.Errorf("DefaultConfig = %+v, want no database and %d cache entries", d, DefaultCacheEntries)
	}
	var filled EnricherConfig
	filled.fillDefaults()
	if filled != d {
		t.Errorf("a zero EnricherConfig is filled as %+v, want DefaultConfig %+v", filled, d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}

// TestValidateNamesKeys: the settings of the geoip section are refused
// by their full key, every problem at once.
func TestValidateNamesKeys(t *testing.T) {
	city := filepath.Join(featuretest.GeoIP, "City-Test.mmdb")
	missing := filepath.Join(t.TempDir(), "nope.mmdb")
	tests := []struct {
		name string
		edit func(*EnricherConfig)
		want []string // nil = valid
	}{
		{"defaults", func(*EnricherConfig) {}, nil},
		{"a database that exists", func(c *EnricherConfig) { c.CityPath = city }, nil},
		{"the largest cache", func(c *EnricherConfig) { c.CacheEntries = MaxCacheEntries }, nil},
		{"no cache", func(c *EnricherConfig) { c.CacheEntries = 0 }, []string{"geoip.cache_entries: 0 must be between 1 and 50000000"}},
		{"a cache too large", func(c *EnricherConfig) { c.CacheEntries = MaxCacheEntries + 1 }, []string{"geoip.cache_entries: 50000001 must be between 1 and"}},
		{"missing city", func(c *EnricherConfig) { c.CityPath = missing }, []string{"geoip.city: stat " + missing}},
		{"missing asn", func(c *EnricherConfig) { c.ASNPath = missing }, []string{"geoip.asn: stat " + missing}},
		{"missing anonymous", func(c *EnricherConfig) { c.AnonymousPath = missing }, []string{"geoip.anonymous: stat " + missing}},
		{"all at once", func(c *EnricherConfig) { c.CacheEntries, c.CityPath, c.AnonymousPath = -5, missing, missing },
			[]string{"geoip.cache_entries: -5", "geoip.city: stat", "geoip.anonymous: stat"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			featuretest.WantErrors(t, c.Validate(), tc.want)
		})
	}
}

// TestConfigYAML: the keys of the geoip section are EnricherConfig's
// yaml tags, and a key not given keeps its default.
func TestConfigYAML(t *testing.T) {
	c, err := yamlconf.DecodeString(DefaultConfig(), "city: /c.mmdb\nasn: /a.mmdb\nanonymous: /x.mmdb\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (EnricherConfig{CityPath: "/c.mmdb", ASNPath: "/a.mmdb", AnonymousPath: "/x.mmdb", CacheEntries: DefaultCacheEntries}); c != want {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
	if c, err = yamlconf.DecodeString(DefaultConfig(), "cache_entries: 7\n"); err != nil || c.CacheEntries != 7 {
		t.Errorf("cache_entries: 7 decoded as %+v, %v", c, err)
	}
	for _, key := range []string{"city_path: /c.mmdb", "cachePath: 1"} {
		if _, err := yamlconf.DecodeString(DefaultConfig(), key+"\n"); err == nil {
			t.Errorf("%q decoded into EnricherConfig; it is not a key of the geoip section", key)
		}
	}
}
