package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
)

// TestTwoTenantsAreTwoPeople runs the labelled two_tenants scenario (the
// same user id at home in London in tenant acme and in Tokyo in tenant
// globex) through the shipped rules with the test GeoIP databases: none of
// their attempts may be challenged or refused, as they were (39 %) when
// the engine took them for one traveller.
func TestTwoTenantsAreTwoPeople(t *testing.T) {
	const kind = "two_tenants"
	events, labels := loadgen.Labelled(loadgen.LabelledConfig{Seed: 1, Scale: 0.2})
	var in bytes.Buffer
	kept := Labels{}
	enc := json.NewEncoder(&in)
	for i, l := range labels {
		if l.Kind != kind {
			continue
		}
		if err := enc.Encode(&events[i]); err != nil {
			t.Fatal(err)
		}
		kept[l.EventID] = l
	}
	if len(kept) == 0 {
		t.Fatalf("the labelled traffic has no %s events", kind)
	}
	var errw bytes.Buffer
	report, err := Run(context.Background(), offline.NewNDJSON(&in, &errw), shippedLane(t), kept)
	if err != nil {
		t.Fatal(err, errw.String())
	}
	_, benign := report.Tally.Rows()
	for _, r := range benign {
		if r.Kind != kind || r.System != SystemEngine {
			continue
		}
		t.Logf("%+v", r)
		if r.Attempts != len(kept) || r.Users < 2 || r.Users%2 != 0 {
			t.Errorf("%d attempts by %d users; want all %d, by pairs of namesakes", r.Attempts, r.Users, len(kept))
		}
		if r.Challenged != 0 || r.Lockouts != 0 {
			t.Errorf("%d of %d attempts challenged, %d refused; want none: two tenants' users are two people", r.Challenged, r.Attempts, r.Lockouts)
		}
		return
	}
	t.Fatalf("no engine row for %s", kind)
}
