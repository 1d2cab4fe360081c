package state

import (
	"path/filepath"
	"testing"

	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/internal/featuretest"
)

var (
	testEvent = featuretest.Event
	t0        = featuretest.T0
	// testSource is the networks file of the test GeoIP databases.
	testSource = filepath.Join(featuretest.GeoIP, "networks.yaml")
)

// newTestEnricher opens the generated test GeoIP databases.
func newTestEnricher(t testing.TB) *enrich.Enricher {
	t.Helper()
	e, err := enrich.NewEnricher(enrich.EnricherConfig{
		CityPath:      filepath.Join(featuretest.GeoIP, "City-Test.mmdb"),
		ASNPath:       filepath.Join(featuretest.GeoIP, "ASN-Test.mmdb"),
		AnonymousPath: filepath.Join(featuretest.GeoIP, "Anonymous-IP-Test.mmdb"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
