package state

import (
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestOnlyLearnedSuccessesTeach: a success the engine did not allow
// (Observe without Learn) leaves the profile and the trusted contexts as
// they were, so its city, device and network stay new; Learn teaches them.
func TestOnlyLearnedSuccessesTeach(t *testing.T) {
	sc := newScorer(t)
	home := testEvent(t, "bob", londonV4, true, t0)
	home.DeviceID = "bob-laptop"
	sc.observe(home)

	stolen := func(at time.Duration) *schemas.LoginEvent {
		ev := testEvent(t, "bob", parisV4, true, t0.Add(at))
		ev.DeviceID = "evil-phone"
		return ev
	}
	sc.observeOnly(stolen(time.Hour)) // challenged: not learned
	f := sc.peek(stolen(2 * time.Hour))
	if !f.NewCity || !f.NewDevice || !f.NewNetwork || f.TrustedDevice || f.TrustedNetwork {
		t.Errorf("after a challenged success from Paris: new city %v device %v network %v, trusted device %v network %v; want new, untrusted",
			f.NewCity, f.NewDevice, f.NewNetwork, f.TrustedDevice, f.TrustedNetwork)
	}
	if f.UserSuccessesTotal != 1 {
		t.Errorf("user_successes_total = %d after one allowed and one challenged success, want 1", f.UserSuccessesTotal)
	}
	if f.TravelKm < 300 {
		t.Errorf("travel_km = %.1f: measured from the challenged success in Paris; want London to Paris (about 340 km), from the last allowed success", f.TravelKm)
	}

	sc.observe(stolen(3 * time.Hour)) // allowed (or its challenge passed)
	f = sc.peek(stolen(4 * time.Hour))
	if f.NewCity || f.NewDevice || f.NewNetwork || !f.TrustedDevice || !f.TrustedNetwork || f.UserSuccessesTotal != 2 {
		t.Errorf("after a learned success from Paris: new city %v device %v network %v, trusted device %v network %v, total %d; want known and trusted, 2",
			f.NewCity, f.NewDevice, f.NewNetwork, f.TrustedDevice, f.TrustedNetwork, f.UserSuccessesTotal)
	}
}

// TestTrustedContexts: a device_id and a network (/24, /64) of a learned
// success are trusted, each on its own, until TrustRetention after they
// were last seen; the status list says since when; a sweep forgets them.
func TestTrustedContexts(t *testing.T) {
	sc := newScorer(t)
	home := testEvent(t, "alice", londonV4, true, t0)
	home.DeviceID = "alice-laptop"
	sc.observe(home)
	v6 := testEvent(t, "alice", londonV6, true, t0.Add(time.Hour))
	sc.observe(v6) // no device_id: only the /64 is trusted

	tests := []struct {
		name                    string
		ip, device              string
		after                   time.Duration
		wantDevice, wantNetwork bool
	}{
		{"the same device from a stranger's network", tokyoV4, "alice-laptop", 24 * time.Hour, true, false},
		{"another address of the home /24, new device", "81.2.69.7", "new-phone", 24 * time.Hour, false, true},
		{"another address of the /64", "2a02:8010:6c1e::99", "", 24 * time.Hour, false, true},
		{"another /24 of the same ISP", "81.2.70.1", "", 24 * time.Hour, false, false},
		{"no device_id sent is never a trusted device", londonV4, "", 24 * time.Hour, false, true},
		{"the home device just within the retention", londonV4, "alice-laptop", TrustRetention, true, true},
		{"the home device past the retention", londonV4, "alice-laptop", TrustRetention + 2*time.Hour, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(t, "alice", tt.ip, true, t0.Add(tt.after))
			ev.DeviceID = tt.device
			f := sc.peek(ev)
			if f.TrustedDevice != tt.wantDevice || f.TrustedNetwork != tt.wantNetwork {
				t.Errorf("trusted device %v network %v, want %v %v", f.TrustedDevice, f.TrustedNetwork, tt.wantDevice, tt.wantNetwork)
			}
		})
	}

	got := sc.s.TrustedContexts("", "alice", t0.Add(2*time.Hour))
	want := []schemas.TrustedContext{
		{Kind: "device", Key: "alice-laptop", FirstSeen: t0, LastSeen: t0},
		{Kind: "network", Key: "2a02:8010:6c1e::/64", FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour)},
		{Kind: "network", Key: "81.2.69.0/24", FirstSeen: t0, LastSeen: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("trusted contexts %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("trusted context %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	sc.s.Sweep(t0.Add(TrustRetention + 2*time.Hour))
	if got := sc.s.TrustedContexts("", "alice", t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("after a sweep past the retention: %+v, want none", got)
	}
}

// TestTrustedDevicesAreBounded: the least recently seen device makes
// room for a new one.
func TestTrustedDevicesAreBounded(t *testing.T) {
	sc := newScorer(t)
	for i := range maxTrustedDevices + 1 {
		ev := testEvent(t, "carol", londonV4, true, t0.Add(time.Duration(i)*time.Minute))
		ev.DeviceID = string(rune('a' + i))
		sc.observe(ev)
	}
	devices := 0
	for _, c := range sc.s.TrustedContexts("", "carol", t0.Add(time.Hour)) {
		if c.Kind == schemas.TrustedDevice {
			devices++
			if c.Key == "a" {
				t.Errorf("the oldest device is still trusted past the bound")
			}
		}
	}
	if devices != maxTrustedDevices {
		t.Errorf("%d trusted devices, want the bound %d", devices, maxTrustedDevices)
	}
}

// TestMFAFailures15m counts failed second factors of the user in 15
// minutes, this one included; password failures and mfa successes do not
// count.
func TestMFAFailures15m(t *testing.T) {
	sc := newScorer(t)
	attempt := func(at time.Duration, method string, ok bool) schemas.Features {
		ev := testEvent(t, "dave", parisV4, ok, t0.Add(at))
		ev.AuthMethod = method
		return sc.observeOnly(ev)
	}
	tests := []struct {
		name   string
		at     time.Duration
		method string
		ok     bool
		want   int
	}{
		{"a password failure", 0, "password", false, 0},
		{"first mfa failure", time.Minute, "mfa", false, 1},
		{"an mfa success reads the count", 2 * time.Minute, "mfa", true, 1},
		{"second mfa failure", 3 * time.Minute, "mfa", false, 2},
		{"third mfa failure", 4 * time.Minute, "mfa", false, 3},
		{"the first is out of the window", 16 * time.Minute, "password", false, 2},
		{"all out of the window", 30 * time.Minute, "mfa", false, 1},
	}
	for _, tt := range tests {
		if f := attempt(tt.at, tt.method, tt.ok); f.UserMFAFailures15m != tt.want {
			t.Errorf("%s: user_mfa_failures_15m = %d, want %d", tt.name, f.UserMFAFailures15m, tt.want)
		}
	}
}

// TestLoadTrustedContext: contexts loaded from history are trusted as if
// learned, with their first and last seen times; bad ones are skipped.
func TestLoadTrustedContext(t *testing.T) {
	sc := newScorer(t)
	first, last := t0.Add(-20*24*time.Hour), t0.Add(-2*24*time.Hour)
	for _, c := range []schemas.TrustedContext{
		{Kind: "device", Key: "erin-laptop", FirstSeen: first, LastSeen: last},
		{Kind: "network", Key: "81.2.69.0/24", FirstSeen: first, LastSeen: last},
		{Kind: "network", Key: "not a network", FirstSeen: first, LastSeen: last},
		{Kind: "planet", Key: "mars", FirstSeen: first, LastSeen: last},
	} {
		sc.s.LoadTrustedContext("", "erin", c)
	}
	ev := testEvent(t, "erin", "81.2.69.77", true, t0)
	ev.DeviceID = "erin-laptop"
	if f := sc.peek(ev); !f.TrustedDevice || !f.TrustedNetwork {
		t.Errorf("after loading: trusted device %v network %v, want both", f.TrustedDevice, f.TrustedNetwork)
	}
	got := sc.s.TrustedContexts("", "erin", t0)
	want := []schemas.TrustedContext{
		{Kind: "device", Key: "erin-laptop", FirstSeen: first, LastSeen: last},
		{Kind: "network", Key: "81.2.69.0/24", FirstSeen: first, LastSeen: last},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("trusted contexts %+v, want %+v", got, want)
	}
	// Past the retention after the last seen time, they are not trusted.
	ev.OccurredAt = last.Add(TrustRetention + time.Hour)
	if f := sc.peek(ev); f.TrustedDevice || f.TrustedNetwork {
		t.Errorf("past the retention: trusted device %v network %v, want neither", f.TrustedDevice, f.TrustedNetwork)
	}
}

// TestTrustIsPerTenant: bob of acme's trusted laptop and home network
// are not trusted for bob of globex, nor for the default tenant's bob.
func TestTrustIsPerTenant(t *testing.T) {
	sc := newScorer(t)
	home := testEvent(t, "bob", londonV4, true, t0)
	home.TenantID, home.DeviceID = "acme", "bob-laptop"
	sc.observe(home)
	for _, tenant := range []string{"acme", "globex", ""} {
		ev := testEvent(t, "bob", londonV4, true, t0.Add(time.Hour))
		ev.TenantID, ev.DeviceID = tenant, "bob-laptop"
		f := sc.peek(ev)
		if want := tenant == "acme"; f.TrustedDevice != want || f.TrustedNetwork != want {
			t.Errorf("tenant %q: trusted device %v network %v, want %v", tenant, f.TrustedDevice, f.TrustedNetwork, want)
		}
		if got := len(sc.s.TrustedContexts(tenant, "bob", t0.Add(time.Hour))); (got > 0) != (tenant == "acme") {
			t.Errorf("tenant %q: %d trusted contexts listed", tenant, got)
		}
	}
}
