package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/features"
)

// TestGeoIPCacheEntries: geoip.cache_entries defaults to the features
// default, is read from the file and from LOGINRISK_GEOIP_CACHE_ENTRIES,
// and out-of-range values are refused naming the key.
func TestGeoIPCacheEntries(t *testing.T) {
	write := func(yaml string) string {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if got := loadConfig(t, write("")).GeoIP.CacheEntries; got != features.DefaultCacheEntries {
		t.Errorf("default cache_entries = %d, want %d", got, features.DefaultCacheEntries)
	}
	if got := loadConfig(t, write("geoip:\n  cache_entries: 400000\n")).GeoIP.CacheEntries; got != 400_000 {
		t.Errorf("cache_entries from the file = %d, want 400000", got)
	}
	t.Setenv("LOGINRISK_GEOIP_CACHE_ENTRIES", "750000")
	if got := loadConfig(t, write("geoip:\n  cache_entries: 400000\n")).GeoIP.CacheEntries; got != 750_000 {
		t.Errorf("cache_entries from the environment = %d, want 750000", got)
	}
	os.Unsetenv("LOGINRISK_GEOIP_CACHE_ENTRIES")

	for _, bad := range []string{"0", "-5", "60000000"} {
		_, stderr, code := runCLI(t, "", "migrate", "--config", write("geoip:\n  cache_entries: "+bad+"\n"), "--check-config")
		if code != 1 || !strings.Contains(stderr, "geoip.cache_entries: "+bad+" must be between 1 and") {
			t.Errorf("cache_entries %s: exit %d, %s; want it refused by name", bad, code, stderr)
		}
	}
}
