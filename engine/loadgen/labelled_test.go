package loadgen

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestLabelledIsDeterministicPerSeed(t *testing.T) {
	cfg := LabelledConfig{Seed: 3, Scale: 0.05}
	ev1, l1 := Labelled(cfg)
	ev2, l2 := Labelled(cfg)
	if !reflect.DeepEqual(ev1, ev2) || !reflect.DeepEqual(l1, l2) {
		t.Fatal("two runs with one seed differ")
	}
	ev3, _ := Labelled(LabelledConfig{Seed: 4, Scale: 0.05})
	if reflect.DeepEqual(ev1, ev3) {
		t.Fatal("seeds 3 and 4 give the same traffic")
	}
}

func TestLabelledCoversEveryKind(t *testing.T) {
	events, labels := Labelled(LabelledConfig{Seed: 1, Scale: 0.05})
	if len(events) != len(labels) {
		t.Fatalf("%d events, %d labels", len(events), len(labels))
	}
	city, asn := testGeoIP(t, "City-Test.mmdb"), testGeoIP(t, "ASN-Test.mmdb")
	byKind := map[string]int{}
	asnsOf := map[string]map[uint]bool{}      // kind -> ASNs
	netsOf := map[string]map[string]bool{}    // campaign -> /24s (spray)
	tenantsOf := map[string]map[string]bool{} // two_tenants user -> tenants
	ids := map[string]bool{}
	for i := range events {
		ev, l := events[i], labels[i]
		if ev.EventID != l.EventID || ids[ev.EventID] {
			t.Fatalf("event %d: id %q, label %q (ids must match and be unique)", i, ev.EventID, l.EventID)
		}
		ids[ev.EventID] = true
		if err := schemas.Validate(&ev); err != nil {
			t.Fatalf("event %d is invalid: %v", i, err)
		}
		if i > 0 && ev.OccurredAt.Before(events[i-1].OccurredAt) {
			t.Fatalf("event %d is earlier than the one before", i)
		}
		if l.Kind == "" || (l.Attack && l.Campaign == "") {
			t.Fatalf("event %d: label %+v lacks a kind or an attack campaign", i, l)
		}
		byKind[l.Kind]++
		rec, err := city.City(ev.Addr)
		if err != nil || rec.Country.ISOCode == "" {
			t.Fatalf("event %d: %s has no country in the test City database (%v)", i, ev.IP, err)
		}
		a, err := asn.ASN(ev.Addr)
		if err != nil || a.AutonomousSystemNumber == 0 {
			t.Fatalf("event %d: %s has no ASN in the test database (%v)", i, ev.IP, err)
		}
		if asnsOf[l.Kind] == nil {
			asnsOf[l.Kind] = map[uint]bool{}
		}
		asnsOf[l.Kind][a.AutonomousSystemNumber] = true
		switch l.Kind {
		case "spray_slash24":
			p, _ := ev.Addr.Prefix(24)
			if netsOf[l.Campaign] == nil {
				netsOf[l.Campaign] = map[string]bool{}
			}
			netsOf[l.Campaign][p.String()] = true
		case "two_tenants":
			if tenantsOf[ev.UserID] == nil {
				tenantsOf[ev.UserID] = map[string]bool{}
			}
			tenantsOf[ev.UserID][ev.TenantID] = true
		case "mfa_fatigue", "stolen_credentials":
			if ev.AuthMethod == "mfa" && !ev.Success() && ev.FailureReason != "mfa_failed" {
				t.Errorf("event %d: a failed second factor with reason %q", i, ev.FailureReason)
			}
		}
	}
	for _, k := range LabelledKinds() {
		if byKind[k.Name] == 0 {
			t.Errorf("kind %s has no events", k.Name)
		}
	}
	if len(byKind) != len(LabelledKinds()) {
		t.Errorf("kinds %v, want exactly those of LabelledKinds", byKind)
	}
	if len(asnsOf["stuffing_hosting_asn"]) != 1 || !asnsOf["stuffing_hosting_asn"][64701] {
		t.Errorf("stuffing ASNs %v, want only the hosting ASN 64701", asnsOf["stuffing_hosting_asn"])
	}
	for c, nets := range netsOf {
		if len(nets) != 1 {
			t.Errorf("spray %s spans %d /24s, want one", c, len(nets))
		}
	}
	for u, tenants := range tenantsOf {
		if len(tenants) != 2 {
			t.Errorf("two_tenants user %s is in tenants %v, want two", u, tenants)
		}
	}
	for _, a := range []netip.Addr{officeAddr, carrierNATAddr, campusAddrs[0]} {
		if rec, _ := city.City(a); rec.City.Names.English == "" {
			t.Errorf("shared address %s has no city", a)
		}
	}
}

// TestLabelledPasswordFP: with PasswordFP every password check carries a
// valid password_fp, a second factor none; a spray's attempts share one,
// every other failure has its own; without it the traffic is the same
// with no password_fp.
func TestLabelledPasswordFP(t *testing.T) {
	plain, _ := Labelled(LabelledConfig{Seed: 1, Scale: 0.05})
	events, labels := Labelled(LabelledConfig{Seed: 1, Scale: 0.05, PasswordFP: true})
	if len(plain) != len(events) {
		t.Fatalf("%d events without password_fp, %d with", len(plain), len(events))
	}
	sprays := map[string]map[string]bool{} // campaign -> fingerprints
	failures := map[string]int{}           // fingerprint -> failures outside sprays
	for i := range events {
		ev := &events[i]
		if plain[i].PasswordFP != "" {
			t.Fatalf("event %s has a password_fp without PasswordFP", plain[i].EventID)
		}
		withoutFP := *ev
		withoutFP.PasswordFP = ""
		if !reflect.DeepEqual(withoutFP, plain[i]) {
			t.Fatalf("event %d differs beyond its password_fp:\n%+v\n%+v", i, withoutFP, plain[i])
		}
		if err := schemas.Validate(ev); err != nil {
			t.Fatal(err)
		}
		if (ev.PasswordFP == "") != (ev.AuthMethod == schemas.AuthMethodMFA) {
			t.Fatalf("event %s (auth_method %s) has password_fp %q", ev.EventID, ev.AuthMethod, ev.PasswordFP)
		}
		switch {
		case labels[i].Kind == "spray_slash24":
			if sprays[labels[i].Campaign] == nil {
				sprays[labels[i].Campaign] = map[string]bool{}
			}
			sprays[labels[i].Campaign][ev.PasswordFP] = true
		case !ev.Success() && ev.PasswordFP != "":
			failures[ev.PasswordFP]++
		}
	}
	if len(sprays) == 0 {
		t.Fatal("no spray in the traffic")
	}
	for c, fps := range sprays {
		if len(fps) != 1 {
			t.Errorf("spray %s tries %d passwords, want 1", c, len(fps))
		}
	}
	for fp, n := range failures {
		if n != 1 {
			t.Errorf("password_fp %s fails %d times outside the sprays, want once", fp, n)
		}
	}
}
