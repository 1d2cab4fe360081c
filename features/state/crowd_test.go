package state

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestSharedAddress builds a crowd on one address and checks the signs of
// sharing and of attack at each step.
func TestSharedAddress(t *testing.T) {
	sc := newScorer(t)
	at := t0
	var f schemas.Features
	for i := range sharedMinUsers - 1 {
		f = sc.login(fmt.Sprintf("colleague%d", i), londonV4, true, at)
		at = at.Add(time.Minute)
	}
	if f.IPShared || f.IPSucceededUsers7d != sharedMinUsers-1 {
		t.Fatalf("%d users: shared %v, succeeded users %d", sharedMinUsers-1, f.IPShared, f.IPSucceededUsers7d)
	}
	f = sc.login("colleague0", londonV4, true, at) // a returning user adds no one
	if f.IPShared || f.IPSucceededUsers7d != sharedMinUsers-1 || f.IPAttempts24h != sharedMinUsers {
		t.Fatalf("a returning user: shared %v, succeeded users %d, attempts %d", f.IPShared, f.IPSucceededUsers7d, f.IPAttempts24h)
	}
	f = sc.login("colleague-new", londonV4, true, at.Add(time.Minute))
	if !f.IPShared || f.IPSucceededUsers7d != sharedMinUsers || f.IPSuccessRatio24h != 1 {
		t.Fatalf("%d users: shared %v, succeeded users %d, ratio %g", sharedMinUsers, f.IPShared, f.IPSucceededUsers7d, f.IPSuccessRatio24h)
	}
	// The network sees the same crowd (one address of it); a residential
	// ISP's ASN is not kept.
	if !f.NetShared || f.NetSucceededUsers7d != sharedMinUsers || f.ASNSucceededUsers7d != 0 || !f.ASNKnown {
		t.Fatalf("network shared %v users %d, ASN users %d", f.NetShared, f.NetSucceededUsers7d, f.ASNSucceededUsers7d)
	}
	// A spray from the same address: failures outweigh successes and the
	// address stops passing for shared.
	at = at.Add(10 * time.Minute)
	for i := range 12 {
		ev := testEvent(t, fmt.Sprintf("target%d", i), londonV4, false, at.Add(time.Duration(i)*time.Second))
		if i%3 == 0 {
			ev.FailureReason = "unknown_user"
		}
		f = sc.observe(ev)
	}
	if f.IPShared || f.IPFailures24h != 12 || f.IPFailedUsers1h != 12 || f.IPUnknownUserFailures24h != 4 || f.IPAttempts24h != 23 {
		t.Errorf("after the spray: shared %v failures %d failed users %d unknown %d attempts %d",
			f.IPShared, f.IPFailures24h, f.IPFailedUsers1h, f.IPUnknownUserFailures24h, f.IPAttempts24h)
	}
	if f.NetFailures1h != 12 || f.ASNFailures1h != 0 || f.NetUnknownUserFailures24h != 4 {
		t.Errorf("network failures 1h %d, ASN %d, network unknown %d", f.NetFailures1h, f.ASNFailures1h, f.NetUnknownUserFailures24h)
	}
	// A peek reads without recording.
	p := sc.peek(testEvent(t, "target0", londonV4, false, at.Add(time.Minute)))
	if p.IPFailures24h != 13 {
		t.Errorf("peek: failures 24h %d, want 13", p.IPFailures24h)
	}
	// Two hours on, the hour's failures are gone, the day's are not; with
	// this success half the day's attempts succeeded: shared again.
	f = sc.login("colleague1", londonV4, true, at.Add(2*time.Hour))
	if f.IPFailedUsers1h != 0 || f.NetFailures1h != 0 || f.IPFailures24h != 12 || f.IPSuccessRatio24h != 0.5 || !f.IPShared {
		t.Errorf("2 h later: failed users 1h %d, network failures 1h %d, failures 24h %d, ratio %g, shared %v",
			f.IPFailedUsers1h, f.NetFailures1h, f.IPFailures24h, f.IPSuccessRatio24h, f.IPShared)
	}
	// Two days on, the day's counts are gone and the week remembers the
	// crowd: one success makes it shared again.
	f = sc.login("colleague2", londonV4, true, at.Add(48*time.Hour))
	if f.IPFailures24h != 0 || f.IPAttempts24h != 1 || f.IPSucceededUsers24h != 1 || f.IPSucceededUsers7d != sharedMinUsers || !f.IPShared {
		t.Errorf("2 days later: failures 24h %d attempts %d users 24h %d users 7d %d shared %v",
			f.IPFailures24h, f.IPAttempts24h, f.IPSucceededUsers24h, f.IPSucceededUsers7d, f.IPShared)
	}
	// A sweep keeps a crowd for the week, and drops it after.
	sc.s.Sweep(at.Add(5 * 24 * time.Hour))
	if st := sc.s.Stats(); st.Crowds != 2 {
		t.Errorf("crowds after 5 days: %d, want the address and its /24 (one failure per account starts no crowd)", st.Crowds)
	}
	sc.s.Sweep(at.Add(10 * 24 * time.Hour))
	if st := sc.s.Stats(); st.Crowds != 0 {
		t.Errorf("crowds after 10 days: %d, want 0", st.Crowds)
	}
}

// TestNetworkCountsItsAddresses: a spray rotating over the addresses of
// one /24 is one source per network, many per address.
func TestNetworkCountsItsAddresses(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 30 {
		ip := fmt.Sprintf("45.33.4.%d", 10+i%8)
		f = sc.login(fmt.Sprintf("victim%d", i), ip, false, t0.Add(time.Duration(i)*time.Minute))
	}
	if f.NetFailedUsers1h != 30 || f.NetFailures1h != 30 || f.NetSuccessRatio24h != 0 {
		t.Errorf("network: failed users %d, failures %d, ratio %g; want 30, 30, 0", f.NetFailedUsers1h, f.NetFailures1h, f.NetSuccessRatio24h)
	}
	if !f.Hosting || f.ASNFailedUsers1h != 30 || f.ASNFailures24h != 30 {
		t.Errorf("hosting ASN (hosting %v): failed users %d, failures 24h %d; want 30, 30", f.Hosting, f.ASNFailedUsers1h, f.ASNFailures24h)
	}
	if f.IPFailedUsers1h > 4 {
		t.Errorf("address: failed users %d, want at most 4 (one address in 8)", f.IPFailedUsers1h)
	}
	// An IPv6 address's network is its /64: the same counts.
	g := sc.login("v6", londonV6, false, t0)
	if g.NetFailures24h != g.IPFailures24h || g.NetFailures24h != 1 {
		t.Errorf("IPv6: network failures %d, address %d; want 1 and 1", g.NetFailures24h, g.IPFailures24h)
	}
}

// TestLongHorizons: a guess every 10 minutes for a day from one network,
// and an account failing twice a day from fresh networks for a week. An
// account's week starts at its second failure in 24 hours, its network's
// day at its third (a typo costs nothing), so those before are not
// counted.
func TestLongHorizons(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 144 {
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		if i%36 == 0 { // the owner at home now and then: home never failed, so it keeps nothing
			want := 1 // this success
			if i == 0 {
				want = 0 // no failure in 24 h: the account's crowds are not read
			}
			if g := sc.login("victim", londonV4, true, at.Add(time.Second)); g.UserNetworkSuccesses24h != want || g.UserNetworkFailures24h != 0 {
				t.Fatalf("owner at home: successes from home %d, failures %d; want %d, 0", g.UserNetworkSuccesses24h, g.UserNetworkFailures24h, want)
			}
		}
		f = sc.login("victim", hostingV4, false, at)
		if i == 31 && (f.UserNetworkFailures24h != 30 || f.UserNetworkSuccesses24h != 0) {
			t.Errorf("32nd guess: failures from the network %d, successes %d; want 30, 0", f.UserNetworkFailures24h, f.UserNetworkSuccesses24h)
		}
	}
	if f.UserNetworkFailures24h != 142 || f.UserFailures7d != 143 || f.UserFailedNetworks7d != 1 {
		t.Errorf("after a day: failures from the network %d, in 7 days %d, networks %d; want 142, 143, 1",
			f.UserNetworkFailures24h, f.UserFailures7d, f.UserFailedNetworks7d)
	}
	// A day and a bit later, the day's guesses are gone, the week's not.
	f = sc.login("victim", hostingV4, false, t0.Add(50*time.Hour))
	if f.UserNetworkFailures24h != 1 || f.UserFailures7d != 144 {
		t.Errorf("50 h on: failures from the network %d, in 7 days %d; want 1, 144", f.UserNetworkFailures24h, f.UserFailures7d)
	}

	// Twice a day for six days, each time from another /24.
	for d := range 6 {
		for k := range 2 {
			ip := fmt.Sprintf("45.33.%d.9", 20+2*d+k)
			f = sc.login("patient", ip, false, t0.Add(time.Duration(d)*24*time.Hour+time.Duration(k)*6*time.Hour))
		}
	}
	if f.UserFailures7d != 11 || f.UserFailedNetworks7d != 11 || f.UserNetworkFailures24h != 1 || f.SecondsSinceLastSuccess != -1 {
		t.Errorf("patient: failures 7d %d, networks %d, from this network %d, since success %g; want 11, 11, 1, -1",
			f.UserFailures7d, f.UserFailedNetworks7d, f.UserNetworkFailures24h, f.SecondsSinceLastSuccess)
	}
	f = sc.login("patient", "45.33.99.9", false, t0.Add(9*24*time.Hour))
	// Day 9: the failures of the days 3 to 5 count (days are whole UTC
	// days), the networks of the last 7 days to the second (from day 2,
	// 15:00), and this one.
	if f.UserFailures7d != 7 || f.UserFailedNetworks7d != 8 {
		t.Errorf("day 9: failures 7d %d, networks %d; want 7, 8", f.UserFailures7d, f.UserFailedNetworks7d)
	}
}

// TestDistinctBeyondTheBound: past 64 members a crowd's counts come from
// HyperLogLog sketches, within a few per cent; below, they are exact; and
// they fall back to exact when the window has moved on.
func TestDistinctBeyondTheBound(t *testing.T) {
	sc := newScorer(t)
	within := func(name string, got, want int) {
		t.Helper()
		if d := float64(got-want) / float64(want); d < -0.1 || d > 0.1 {
			t.Errorf("%s: %d, want %d within 10 %%", name, got, want)
		}
	}
	var f schemas.Features
	for i := range 900 { // a spray of 900 accounts from one address in 45 minutes
		f = sc.login(fmt.Sprintf("sprayed%d", i), hostingV4, false, t0.Add(time.Duration(i)*3*time.Second))
		if i == maxCrowdUsers-1 && (f.IPFailedUsers1h != maxCrowdUsers || f.IPDistinctUsers1h != maxCrowdUsers) {
			t.Fatalf("64 accounts: failed users %d, distinct users %d, want exactly 64", f.IPFailedUsers1h, f.IPDistinctUsers1h)
		}
	}
	within("failed users of the address", f.IPFailedUsers1h, 900)
	within("failed users of the /24", f.NetFailedUsers1h, 900)
	within("failed users of the ASN", f.ASNFailedUsers1h, 900)
	within("distinct users of the address in 1 h", f.IPDistinctUsers1h, 900)
	within("the status counter of distinct users in 1 h", int(sc.s.IPCounters(netip.MustParseAddr(hostingV4), t0.Add(899*3*time.Second)).Get("ip_distinct_users_1h")), 900)
	// The 10-minute count beyond 64 covers 10 to 20 minutes (two slots of
	// the address's ring): 200 to 400 accounts at one every 3 s.
	if n := f.IPDistinctUsers10m; n < 180 || n > 440 {
		t.Errorf("distinct users of the address in 10 min: %d, want 200 to 400 (within 10 %%)", n)
	}
	if f.IPFailures1h != 900 {
		t.Errorf("failures 1h %d, want 900", f.IPFailures1h)
	}
	// Two hours later the hour is empty: exact again.
	f = sc.login("late", hostingV4, false, t0.Add(3*time.Hour))
	if f.IPFailedUsers1h != 1 {
		t.Errorf("3 h later: failed users %d, want 1", f.IPFailedUsers1h)
	}

	// 5,000 mobile users succeed behind one carrier NAT over a day.
	for i := range 5000 {
		f = sc.login(fmt.Sprintf("mobile%d", i), tokyoV4, true, t0.Add(time.Duration(i)*17*time.Second))
	}
	within("succeeded users 24 h", f.IPSucceededUsers24h, 5000)
	within("succeeded users 7 d", f.IPSucceededUsers7d, 5000)
	if !f.IPShared {
		t.Error("the carrier NAT is not shared")
	}
	// A sweep a week later frees the sketches with the crowds.
	sc.s.Sweep(t0.Add(9 * 24 * time.Hour))
	if n := sc.s.sketches.held(); n != 0 {
		t.Errorf("%d crowds or addresses keep sketches after a week idle", n)
	}
}

// TestKnownDevicesKeepACrowdShared: users who succeed from an address on
// devices they are known to use count as signs of sharing, so that an
// office under a spray from its own NAT stays shared down to a fifth of
// successes; first logins on new devices do not count, and without known
// devices the spray makes the address look unshared.
func TestKnownDevicesKeepACrowdShared(t *testing.T) {
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("known devices %v", known), func(t *testing.T) {
			sc := newScorer(t)
			at := t0
			login := func(user string, ok bool) schemas.Features {
				ev := testEvent(t, user, londonV4, ok, at)
				ev.DeviceID = user + "-laptop"
				at = at.Add(time.Minute)
				return sc.observe(ev)
			}
			var f schemas.Features
			// Twelve colleagues log in twice (known: the second login is
			// on a device of their profile), or once each on a fresh
			// device.
			for i := range 12 {
				f = login(fmt.Sprintf("colleague%d", i), true)
				if f.IPKnownDeviceUsers7d != 0 {
					t.Fatalf("a first login counted a known device: %d", f.IPKnownDeviceUsers7d)
				}
			}
			if known {
				for i := range 12 {
					f = login(fmt.Sprintf("colleague%d", i), true)
				}
				if f.IPKnownDeviceUsers7d != 12 || f.NetKnownDeviceUsers7d != 12 {
					t.Fatalf("known-device users: address %d, network %d; want 12", f.IPKnownDeviceUsers7d, f.NetKnownDeviceUsers7d)
				}
			}
			// A spray from the office NAT: 40 failures over 40 accounts.
			for i := range 40 {
				f = login(fmt.Sprintf("target%d", i), false)
			}
			ratio := f.IPSuccessRatio24h
			if ratio >= sharedMinSuccessRatio || ratio < sharedMinKnownDeviceRatio {
				t.Fatalf("success ratio %g: the scenario must sit between the two thresholds", ratio)
			}
			if f.IPShared != known || f.NetShared != known {
				t.Errorf("during the spray: address shared %v, network shared %v; want %v (%d known-device users, ratio %.2f)",
					f.IPShared, f.NetShared, known, f.IPKnownDeviceUsers7d, ratio)
			}
		})
	}
}

// TestNetworkHorizons: per network and per ASN, the counts of the hour
// (attempts, success ratio) and the failures of 7 days; per account and
// network, the failures and successes of 7 days, by UTC day.
func TestNetworkHorizons(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	// A hosting /24 fails for 12 accounts on each of three days, with
	// one success on the third; its addresses rotate.
	for d := range 3 {
		for i := range 12 {
			at := t0.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute)
			f = sc.login(fmt.Sprintf("d%dvictim%d", d, i), fmt.Sprintf("45.33.4.%d", 10+i), false, at)
		}
	}
	if f.NetFailures7d != 36 || f.ASNFailures7d != 36 || f.NetFailures24h != 12 {
		t.Errorf("network failures 7d %d, ASN %d, network 24h %d; want 36, 36, 12", f.NetFailures7d, f.ASNFailures7d, f.NetFailures24h)
	}
	f = sc.login("tenant", "45.33.4.200", true, t0.Add(48*time.Hour+20*time.Minute))
	if f.NetAttempts1h != 13 || f.NetSuccessRatio1h != 1.0/13 || f.ASNAttempts1h != 13 || f.ASNSuccessRatio1h != 1.0/13 {
		t.Errorf("the hour: network attempts %d ratio %g, ASN attempts %d ratio %g; want 13 and 1/13",
			f.NetAttempts1h, f.NetSuccessRatio1h, f.ASNAttempts1h, f.ASNSuccessRatio1h)
	}
	// The network's week survives a sweep after two idle days (36
	// failures), a residential /24 with one typo does not.
	sc.login("typo", parisV4, false, t0)
	sc.s.Sweep(t0.Add(5 * 24 * time.Hour))
	f = sc.peek(testEvent(t, "later", "45.33.4.99", false, t0.Add(5*24*time.Hour)))
	if f.NetFailures7d != 37 {
		t.Errorf("after a sweep 3 days idle: network failures 7d %d, want 37 (36 and this one)", f.NetFailures7d)
	}
	if g := sc.peek(testEvent(t, "typo2", parisV4, false, t0.Add(5*24*time.Hour))); g.NetFailures7d != 1 {
		t.Errorf("a network with one failure is kept for the week: failures 7d %d, want 1 (this one)", g.NetFailures7d)
	}

	// One guess an hour from one address for three days, and the owner
	// from home once a day: per account and network, the week counts the
	// guesses (from the account's third failure in 24 hours) and no
	// success from the guesser's network.
	for h := range 72 {
		at := t0.Add(time.Duration(h) * time.Hour)
		if h%24 == 12 {
			sc.login("owner", londonV4, true, at.Add(time.Minute))
		}
		f = sc.login("owner", hostingV4, false, at)
	}
	if f.UserNetworkFailures7d != 70 || f.UserNetworkSuccesses7d != 0 || f.UserNetworkFailures24h != 24 {
		t.Errorf("the guesser's network: failures 7d %d, successes 7d %d, failures 24h %d; want 70, 0, 24", f.UserNetworkFailures7d, f.UserNetworkSuccesses7d, f.UserNetworkFailures24h)
	}
	if g := sc.login("owner", londonV4, true, t0.Add(72*time.Hour)); g.UserNetworkSuccesses7d != 1 || g.UserNetworkFailures7d != 0 {
		t.Errorf("the owner's home: successes 7d %d, failures 7d %d; want 1 (this one, home never failed before), 0", g.UserNetworkSuccesses7d, g.UserNetworkFailures7d)
	}
}
