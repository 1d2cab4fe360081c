// Package geotest locates the repository's generated GeoIP test databases
// (testdata/geoip, written by go generate ./features/enrich) for the tests
// of the engine: engine/testkit.Enricher, and the tests inside package
// engine, which cannot import testkit (it imports engine).
package geotest

import (
	"os"
	"path/filepath"

	"github.com/loginrisk/loginrisk/features/enrich"
)

// Config is the enrichment configuration of the City, ASN and
// Anonymous-IP test databases, found from the working directory (a test's
// package folder) upwards.
func Config() enrich.EnricherConfig {
	dir := "testdata/geoip"
	for range 5 {
		if _, err := os.Stat(filepath.Join(dir, "City-Test.mmdb")); err == nil {
			break
		}
		dir = filepath.Join("..", dir)
	}
	return enrich.EnricherConfig{
		CityPath:      filepath.Join(dir, "City-Test.mmdb"),
		ASNPath:       filepath.Join(dir, "ASN-Test.mmdb"),
		AnonymousPath: filepath.Join(dir, "Anonymous-IP-Test.mmdb"),
	}
}
