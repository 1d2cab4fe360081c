package loadgen

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/oschwald/geoip2-golang/v2"

	"github.com/loginrisk/loginrisk/schemas"
)

// testGeoIP opens one of the repository's generated GeoIP test
// databases (testdata/geoip), closed when the test ends.
func testGeoIP(t *testing.T, name string) *geoip2.Reader {
	t.Helper()
	db, err := geoip2.Open(filepath.Join("..", "..", "testdata", "geoip", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestCityNetworksResolve keeps the generator's city table in step with
// the generated test City database.
func TestCityNetworksResolve(t *testing.T) {
	db := testGeoIP(t, "City-Test.mmdb")
	for _, c := range Cities() {
		for _, v6 := range []bool{false, true} {
			for _, n := range []int{1, 77, 4000} {
				a, ok := CityAddr(c.Name, n, v6)
				if !ok {
					t.Fatalf("%s: address %d outside its network", c.Name, n)
				}
				rec, err := db.City(a)
				if err != nil {
					t.Fatal(err)
				}
				if got := rec.City.Names.English; got != c.Name {
					t.Errorf("%s (v6=%v) resolves to %q, want %q", a, v6, got, c.Name)
				}
			}
		}
	}
}

func TestGeneratorIsDeterministicAndValid(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a, b := New(Config{Users: 300, Seed: 7}), New(Config{Users: 300, Seed: 7})
	scenarios := map[string]bool{}
	db := testGeoIP(t, "City-Test.mmdb")
	homeResolved := 0
	for i := range 5000 {
		ea, eb := a.Next(at), b.Next(at)
		if ea.EventID != eb.EventID || ea.IP != eb.IP || ea.UserID != eb.UserID || ea.Outcome != eb.Outcome {
			t.Fatalf("event %d differs between two generators with one seed: %+v vs %+v", i, ea, eb)
		}
		ev := ea
		if err := schemas.Validate(&ev); err != nil {
			t.Fatalf("generated event %d is invalid: %v (%+v)", i, err, ea)
		}
		if ea.UserAgent == "" {
			t.Errorf("event %d has no user agent", i)
		}
		if rec, err := db.City(ev.Addr); err == nil && rec.City.Names.English != "" {
			homeResolved++
		}
		at = at.Add(10 * time.Millisecond)
	}
	for _, s := range a.scenarios {
		scenarios[s.name()] = true
	}
	if len(scenarios) < 6 {
		t.Errorf("scenarios %v, want six kinds of attack", scenarios)
	}
	if homeResolved < 4000 {
		t.Errorf("only %d of 5000 addresses have a city in the test database", homeResolved)
	}
}
