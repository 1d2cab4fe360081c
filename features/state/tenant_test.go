package state

import (
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// tenantLogin observes an attempt of user in tenant.
func (sc *scorer) tenantLogin(tenant, user, ip string, ok bool, at time.Time) schemas.Features {
	ev := testEvent(sc.t, user, ip, ok, at)
	ev.TenantID = tenant
	ev.EventID += "-" + tenant
	return sc.observe(ev)
}

// TestTenantsAreApart: bob of acme in London and bob of globex in Tokyo are
// two people: neither travels, neither sees a new city, and the failures of
// one do not count for the other.
func TestTenantsAreApart(t *testing.T) {
	sc := newScorer(t)
	for day := range 3 {
		at := t0.Add(time.Duration(day) * 24 * time.Hour)
		sc.tenantLogin("acme", "bob", londonV4, true, at)
		sc.tenantLogin("globex", "bob", tokyoV4, true, at.Add(time.Hour))
	}
	at := t0.Add(3 * 24 * time.Hour)
	tests := []struct {
		name, tenant, ip string
	}{
		{"acme's bob at home in London", "acme", londonV4},
		{"globex's bob at home in Tokyo, an hour later", "globex", tokyoV4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sc.tenantLogin(tt.tenant, "bob", tt.ip, true, at.Add(time.Duration(i)*time.Hour))
			if !f.UserKnown || f.NewCity || f.NewCountry || f.NewNetwork || f.TravelKm != 0 || f.TravelSpeedKmh != 0 || f.UserSuccessesTotal != 3 {
				t.Errorf("known %v, new city %v country %v network %v, travel %.0f km at %.0f km/h, successes %d; want a known user at home with 3 successes before this one",
					f.UserKnown, f.NewCity, f.NewCountry, f.NewNetwork, f.TravelKm, f.TravelSpeedKmh, f.UserSuccessesTotal)
			}
		})
	}
	// The same user id in the default tenant is a third person.
	if f := sc.login("bob", londonV4, true, at.Add(3*time.Hour)); f.UserKnown || f.UserSuccessesTotal != 0 {
		t.Errorf("default tenant's bob: known %v, successes %d; want a first login", f.UserKnown, f.UserSuccessesTotal)
	}
	if st := sc.s.Stats(); st.Keys[Users] != 3 || st.Profiles != 3 {
		t.Errorf("stats %+v, want 3 users with profiles", st)
	}
}

// TestTenantFailuresApartAddressShared: the failures of acme's bob do not
// count for globex's bob, while the address both fail from counts every
// attempt and sees two users: one address attacking two tenants is one
// attacker.
func TestTenantFailuresApartAddressShared(t *testing.T) {
	sc := newScorer(t)
	for i := range 5 {
		sc.tenantLogin("acme", "bob", torV4, false, t0.Add(time.Duration(i)*time.Second))
	}
	f := sc.tenantLogin("globex", "bob", torV4, false, t0.Add(10*time.Second))
	if f.UserFailures15m != 1 || f.UserConsecutiveFailures != 1 || f.UserDistinctIPs1h != 1 {
		t.Errorf("globex's bob: %d failures in 15 min, %d consecutive, %d addresses; want only its own attempt",
			f.UserFailures15m, f.UserConsecutiveFailures, f.UserDistinctIPs1h)
	}
	if f.IPFailures10m != 6 || f.IPDistinctUsers10m != 2 {
		t.Errorf("address: %d failures, %d distinct users in 10 min; want 6 failures by 2 users", f.IPFailures10m, f.IPDistinctUsers10m)
	}
	at := t0.Add(time.Minute)
	for _, tt := range []struct {
		tenant string
		want   float64
	}{{"acme", 5}, {"globex", 1}, {"", 0}} {
		if got := sc.s.UserCounters(tt.tenant, "bob", at).Get("user_failures_15m"); got != tt.want {
			t.Errorf("UserCounters(%q, bob) user_failures_15m = %v, want %v", tt.tenant, got, tt.want)
		}
	}
	if got := sc.s.IPCounters(netip.MustParseAddr(torV4), at).Get("ip_failures_10m"); got != 6 {
		t.Errorf("IPCounters ip_failures_10m = %v, want 6", got)
	}
}

// TestLoadProfileTenant: a profile loaded from history is its tenant's
// user's only.
func TestLoadProfileTenant(t *testing.T) {
	sc := newScorer(t)
	sc.s.LoadProfile(&schemas.UserProfile{
		TenantID: "acme", UserID: "bob", Countries: []string{"GB"}, Cities: []string{"GB/London"},
		Networks: []string{"81.2.69.0/24"}, SuccessesTotal: 9, LastSuccessAt: t0.Add(-time.Hour),
		LastGeoKnown: true, LastLatitude: 51.5074, LastLongitude: -0.1278,
	})
	if f := sc.tenantLogin("acme", "bob", londonV4, true, t0); !f.UserKnown || f.NewCity || f.UserSuccessesTotal != 9 {
		t.Errorf("acme's bob: known %v, new city %v, successes %d; want the loaded profile", f.UserKnown, f.NewCity, f.UserSuccessesTotal)
	}
	if f := sc.tenantLogin("globex", "bob", tokyoV4, true, t0.Add(time.Hour)); f.UserKnown || f.TravelKm != 0 || f.UserSuccessesTotal != 0 {
		t.Errorf("globex's bob: known %v, travel %.0f km, successes %d; want a first login", f.UserKnown, f.TravelKm, f.UserSuccessesTotal)
	}
}
