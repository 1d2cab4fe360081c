package netdata

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRealFile(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "..", "testdata", "geoip", "networks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cities := map[string]bool{}
	for _, n := range f.Networks {
		family := " v6"
		if n.CIDR.Addr().Is4() {
			family = " v4"
		}
		if l, ok := f.Locations[n.Location]; ok && l.City != "" {
			cities[l.City+family] = true
		}
	}
	for _, c := range []string{"London", "Manchester", "Paris", "Berlin", "New York", "San Francisco", "Seattle", "Tokyo", "Sydney", "São Paulo", "Mumbai", "Lagos"} {
		if !cities[c+" v4"] || !cities[c+" v6"] {
			t.Errorf("%s lacks an IPv4 or an IPv6 network", c)
		}
	}
	// The residential proxies inherit New York's place and ASN.
	e := f.Resolve(netip.MustParseAddr("67.80.241.9"))
	if e.Location == nil || e.Location.City != "New York" || e.ASN != 64631 || len(e.Anonymous) != 1 || e.Anonymous[0] != "residential_proxy" {
		t.Errorf("Resolve(67.80.241.9) = %+v", e)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "build_epoch: 1\ncountries: {GB: {name: United Kingdom, continent: EU}}\n" +
		"locations: {london: {country: GB, city: London, latitude: 51.5, longitude: -0.1, accuracy_radius: 20, time_zone: Europe/London}}\n" +
		"asns: {64601: Test}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", head + "networks: [{cidr: 81.2.64.0/20, location: london, sampel: 81.2.64.1}]", "sampel"},
		{"bad cidr", head + "networks: [{cidr: 81.2.64.0/33, location: london, sample: 81.2.64.1}]", "81.2.64.0/33"},
		{"host bits", head + "networks: [{cidr: 81.2.69.1/20, location: london, sample: 81.2.69.1}]", "write 81.2.64.0/20"},
		{"unknown location", head + "networks: [{cidr: 81.2.64.0/20, location: paris, sample: 81.2.64.1}]", `location "paris"`},
		{"unknown asn", head + "networks: [{cidr: 81.2.64.0/20, asn: 1, sample: 81.2.64.1}]", "asn 1"},
		{"unknown flag", head + "networks: [{cidr: 81.2.64.0/20, anonymous: [is_tor], sample: 81.2.64.1}]", `"is_tor"`},
		{"sample outside", head + "networks: [{cidr: 81.2.64.0/20, location: london, sample: 81.2.99.1}]", "not inside"},
		{"twice", head + "networks: [{cidr: 81.2.64.0/20, location: london, sample: 81.2.64.1}, {cidr: 81.2.64.0/20, asn: 64601, sample: 81.2.64.2}]", "listed twice"},
		{"no data", head + "networks: [{cidr: 81.2.64.0/20, sample: 81.2.64.1}]", "has no location"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
