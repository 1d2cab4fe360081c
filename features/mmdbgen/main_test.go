package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"

	"github.com/loginrisk/loginrisk/features/internal/netdata"
)

var (
	sourceFile = filepath.Join("..", "..", "testdata", "geoip", "networks.yaml")
	checkedIn  = filepath.Join("..", "..", "testdata", "geoip")
)

// TestCheckedInFilesAreReproducible generates the databases twice into
// temporary directories and compares them byte for byte with each other
// and with the checked-in files.
func TestCheckedInFilesAreReproducible(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for _, dir := range []string{first, second} {
		if err := run(sourceFile, dir); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		dbType string
	}{
		{cityFile, "GeoIP2-City"},
		{asnFile, "GeoLite2-ASN"},
		{anonFile, "GeoIP2-Anonymous-IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustRead(t, filepath.Join(first, tt.name))
			b := mustRead(t, filepath.Join(second, tt.name))
			if !bytes.Equal(a, b) {
				t.Fatal("two runs of the generator differ")
			}
			if !bytes.Equal(a, mustRead(t, filepath.Join(checkedIn, tt.name))) {
				t.Fatalf("testdata/geoip/%s differs from what networks.yaml generates: run go generate ./features/enrich", tt.name)
			}
			r, err := geoip2.OpenBytes(a)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			md := r.Metadata()
			if md.DatabaseType != tt.dbType || md.BuildEpoch != 1767225600 || md.IPVersion != 6 {
				t.Errorf("metadata type %q epoch %d ip version %d", md.DatabaseType, md.BuildEpoch, md.IPVersion)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildRejects(t *testing.T) {
	const head = "build_epoch: 1\ncountries: {GB: {name: United Kingdom, continent: EU}}\n" +
		"locations: {london: {country: GB, city: London, latitude: 51.5, longitude: -0.1, accuracy_radius: 20, time_zone: Europe/London}}\n" +
		"asns: {64601: Test}\n"
	tests := []struct {
		name     string
		networks string
		want     string
	}{
		{"reserved range", "networks: [{cidr: 10.0.0.0/8, location: london, sample: 10.1.1.1}]", "10.0.0.0/8"},
		{"documentation range", "networks: [{cidr: 2001:db8::/32, location: london, sample: \"2001:db8::1\"}]", "2001:db8::/32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := netdata.Parse([]byte(head + tt.networks))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := build(src); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build: %v, want an error naming %s", err, tt.want)
			}
		})
	}
}
