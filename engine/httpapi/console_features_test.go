package httpapi

import (
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestFeatureListFollowsTheCatalogue: a decision's detail lists every
// feature of the catalogue, in its order, with its value and unit.
func TestFeatureListFollowsTheCatalogue(t *testing.T) {
	catalogue, err := schemas.FeatureCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	list := featureList(&schemas.Features{UserFailures15m: 7, TravelKm: 12.5, Country: "GB"})
	if len(list) != len(catalogue) {
		t.Fatalf("%d features listed, the catalogue has %d", len(list), len(catalogue))
	}
	for i, f := range list {
		if f.Name != catalogue[i].Name || f.Unit != catalogue[i].Unit {
			t.Errorf("feature %d is %s (%s), the catalogue's %s (%s)", i, f.Name, f.Unit, catalogue[i].Name, catalogue[i].Unit)
		}
	}
	want := map[string]feature{
		"user_failures_15m": {Name: "user_failures_15m", Value: 7, Unit: "count"},
		"travel_km":         {Name: "travel_km", Value: 12.5, Unit: "km"},
		"country":           {Name: "country", Value: "GB"},
	}
	for _, f := range list {
		if w, ok := want[f.Name]; ok && f != w {
			t.Errorf("%s listed as %+v, want %+v", f.Name, f, w)
		}
	}
}
