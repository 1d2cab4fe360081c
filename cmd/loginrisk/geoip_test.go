package main

import (
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/features/enrich"
)

// The demo, the bench and `rules test` put the repository's test databases
// under the configuration when it names none. The layer must look at the
// three paths only: the section has other settings with defaults
// (cache_entries), and a zero-value comparison of the whole struct once
// made every one of them run without GeoIP.
func TestGeoIPTestDatabasesLayer(t *testing.T) {
	tests := []struct {
		name      string
		in        GeoIPConfig
		wantCity  string // suffix, or "" for empty
		wantASN   string
		wantEntry int
	}{
		{name: "defaults get the test databases", in: defaultConfig().GeoIP,
			wantCity: "testdata/geoip/City-Test.mmdb", wantASN: "testdata/geoip/ASN-Test.mmdb", wantEntry: defaultConfig().GeoIP.CacheEntries},
		{name: "a cache size alone still gets them", in: GeoIPConfig{enrich.EnricherConfig{CacheEntries: 123}},
			wantCity: "testdata/geoip/City-Test.mmdb", wantASN: "testdata/geoip/ASN-Test.mmdb", wantEntry: 123},
		{name: "a path given wins and adds nothing", in: GeoIPConfig{enrich.EnricherConfig{CityPath: "/srv/GeoIP2-City.mmdb", CacheEntries: 7}},
			wantCity: "/srv/GeoIP2-City.mmdb", wantASN: "", wantEntry: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.orTestDatabases()
			if !strings.HasSuffix(got.CityPath, tt.wantCity) || (tt.wantCity == "") != (got.CityPath == "") {
				t.Errorf("City = %q, want …%q", got.CityPath, tt.wantCity)
			}
			if !strings.HasSuffix(got.ASNPath, tt.wantASN) || (tt.wantASN == "") != (got.ASNPath == "") {
				t.Errorf("ASN = %q, want …%q", got.ASNPath, tt.wantASN)
			}
			if got.CacheEntries != tt.wantEntry {
				t.Errorf("CacheEntries = %d, want %d (kept)", got.CacheEntries, tt.wantEntry)
			}
		})
	}
}

// `rules test` runs the shipped cases with GeoIP: two of them (a new city,
// a Tor exit) can only pass when the databases are used.
func TestRulesTestShippedCasesUseGeoIP(t *testing.T) {
	stdout, stderr, code := runCLI(t, "", "rules", "test", repoFile("rules/default"))
	if code != 0 {
		t.Fatalf("rules test exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"is challenged for the new city", "is flagged as anonymous",
		"tests/events.yaml:31: stolen credentials retried after a challenge",
		"tests/events.yaml:87: an account attack from many addresses refuses untrusted contexts",
		" 0 failed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
