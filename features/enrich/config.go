package enrich

import (
	"errors"
	"fmt"
	"os"
)

// DefaultCacheEntries is the default size of each enrichment cache.
const DefaultCacheEntries = 100_000

// MaxCacheEntries bounds CacheEntries: about 200 bytes an entry in each
// of the four caches, some 40 GB at the bound.
const MaxCacheEntries = 50_000_000

// EnricherConfig configures an Enricher. It is also the geoip section of
// the configuration file: the yaml tags are the keys, DefaultConfig holds
// the defaults, which NewEnricher fills into zero fields, and Validate
// every check, naming the key by its full path (geoip.…). Every database
// is optional: an empty path leaves its features unknown (geo_known,
// asn_known, anon_known false).
type EnricherConfig struct {
	// CityPath is a GeoIP2 or GeoLite2 City database (a Country database
	// also works, without cities): geoip.city, --geoip-city.
	CityPath string `yaml:"city"`
	// ASNPath is a GeoLite2 ASN (or GeoIP2 ISP) database: geoip.asn,
	// --geoip-asn.
	ASNPath string `yaml:"asn"`
	// AnonymousPath is a GeoIP2 Anonymous-IP database: geoip.anonymous,
	// --geoip-anonymous.
	AnonymousPath string `yaml:"anonymous"`
	// CacheEntries bounds each of the four caches: one entry per
	// address, one per network of the databases (the range over which
	// all three give the same answer), one per /24 or /64 (its name), one
	// per user-agent string (the package documentation says which
	// caches admit). Size it to the addresses active in a day. Zero means
	// DefaultCacheEntries.
	CacheEntries int `yaml:"cache_entries"`
}

// DefaultConfig is the one place the enricher's defaults are written: no
// database, DefaultCacheEntries.
func DefaultConfig() EnricherConfig {
	return EnricherConfig{CacheEntries: DefaultCacheEntries}
}

// fillDefaults sets the zero settings to DefaultConfig's.
func (c *EnricherConfig) fillDefaults() {
	if c.CacheEntries == 0 {
		c.CacheEntries = DefaultConfig().CacheEntries
	}
}

// database is one of the optional databases: its key and its path.
type database struct {
	key, path string
}

// databases lists the three databases, city, asn and anonymous, in that
// order, with their keys.
func (c EnricherConfig) databases() [3]database {
	return [3]database{{"geoip.city", c.CityPath}, {"geoip.asn", c.ASNPath}, {"geoip.anonymous", c.AnonymousPath}}
}

// Validate checks the configuration after defaults are filled: the cache
// size, and that each database named exists (NewEnricher checks that it
// is one, of the right type). Every problem is returned, each naming its
// key.
func (c EnricherConfig) Validate() error {
	var errs []error
	if c.CacheEntries < 1 || c.CacheEntries > MaxCacheEntries {
		errs = append(errs, fmt.Errorf("geoip.cache_entries: %d must be between 1 and %d", c.CacheEntries, MaxCacheEntries))
	}
	for _, db := range c.databases() {
		if db.path == "" {
			continue
		}
		if _, err := os.Stat(db.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", db.key, err))
		}
	}
	return errors.Join(errs...)
}
