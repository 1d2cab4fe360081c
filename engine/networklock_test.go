package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// networkLockRules lock the network of an unknown_user failure, and of a
// network with 15 failures in an hour, so the tests decide when a network
// lock is asked for.
const networkLockRules = `rules:
  - id: unknown_user_network
    description: An unknown user name locks the network.
    when: failure && failure_reason == "unknown_user"
    weight: 60
    action: lockout
    scope: network
  - id: busy_network
    description: Many failures from one network lock it.
    when: failure && net_failures_1h >= 15
    weight: 60
    action: lockout
    scope: network
`

// newNetworkLockEngine is an engine with networkLockRules and a fresh
// store, without GeoIP.
func newNetworkLockEngine(t *testing.T) *Engine {
	t.Helper()
	eng, _ := newTestEngine(t, networkLockRules, Config{})
	return eng
}

// scorer scores attempts on eng with event ids of its own.
type scorer struct {
	t   *testing.T
	eng *Engine
	n   int
}

func (s *scorer) score(at time.Time, user, ip string, outcome schemas.Outcome, reason string) *schemas.Decision {
	s.t.Helper()
	s.n++
	ev := &schemas.LoginEvent{EventID: fmt.Sprintf("n%d", s.n), OccurredAt: at, UserID: user, IP: ip, Outcome: outcome, FailureReason: reason}
	return mustScore(s.t, s.eng, ev, false).Decision
}

// TestNetworkLock: a network lock refuses every account from every
// address of the IPv4 /24 or IPv6 /64 (and nothing outside it), shows in
// the status of any address in it, escalates per network key, and reaches
// another instance through its decision.
func TestNetworkLock(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name, attacker, neighbour, outside, network string
	}{
		{"IPv4 /24", "198.51.100.7", "198.51.100.201", "198.51.101.7", "198.51.100.0/24"},
		{"IPv6 /64", "2001:db8:1:2::5", "2001:db8:1:2:ffff::9", "2001:db8:1:3::5", "2001:db8:1:2::/64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng := newNetworkLockEngine(t)
			s := &scorer{t: t, eng: eng}
			d := s.score(t0, "nobody", tc.attacker, schemas.OutcomeFailure, "unknown_user")
			if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeNetwork || d.Lock.Key != tc.network || !d.Lock.Until.Equal(t0.Add(10*time.Minute)) {
				t.Fatalf("unknown user from %s: %s %+v, want a 10-minute network lock on %s", tc.attacker, d.Decision, d.Lock, tc.network)
			}
			if d := s.score(t0.Add(time.Minute), "bob", tc.neighbour, schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Key != tc.network || !hasReason(d, schemas.ReasonLocked, "network lock on "+tc.network) {
				t.Errorf("another user from %s in the locked network: %s %+v %+v, want refused by the network lock", tc.neighbour, d.Decision, d.Lock, d.Reasons)
			}
			if d := s.score(t0.Add(time.Minute), "bob", tc.outside, schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictAllow {
				t.Errorf("a user from %s, outside the network: %s %+v", tc.outside, d.Decision, d.Lock)
			}
			st := eng.IPStatus(netip.MustParseAddr(tc.neighbour), t0.Add(2*time.Minute))
			if len(st.Locks) != 1 || st.Locks[0].Scope != schemas.ScopeNetwork || st.Locks[0].Key != tc.network || st.Locks[0].Rule != "unknown_user_network" {
				t.Errorf("status of %s: locks %+v, want the network lock", tc.neighbour, st.Locks)
			}
			if st := eng.IPStatus(netip.MustParseAddr(tc.outside), t0.Add(2*time.Minute)); len(st.Locks) != 0 {
				t.Errorf("status of %s outside the network: locks %+v", tc.outside, st.Locks)
			}
			// A second offence after the lock ended climbs the ladder of
			// the network key.
			again := t0.Add(15 * time.Minute)
			d = s.score(again, "nobody2", tc.neighbour, schemas.OutcomeFailure, "unknown_user")
			if d.Lock == nil || d.Lock.Key != tc.network || !d.Lock.Until.Equal(again.Add(30*time.Minute)) {
				t.Errorf("second offence: lock %+v, want 30 minutes on %s", d.Lock, tc.network)
			}
			k, ok := ParseLockKey(schemas.ScopeNetwork, "", tc.network)
			if !ok {
				t.Fatalf("ParseLockKey(network, %q) refused the engine's own key", tc.network)
			}
			if got := eng.locks.offences(k); got != 2 {
				t.Errorf("offences of the network key = %d, want 2", got)
			}

			// Another instance learns the lock from the decision.
			other := newNetworkLockEngine(t)
			if err := other.ApplyDecision(d); err != nil {
				t.Fatal(err)
			}
			o := &scorer{t: t, eng: other}
			if d := o.score(again.Add(time.Minute), "carol", tc.attacker, schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeNetwork {
				t.Errorf("the other instance after the decision: %s %+v, want refused by the network lock", d.Decision, d.Lock)
			}
		})
	}
}

// TestNetworkLockSparesCrowds: no network lock falls on a shared network
// (net_shared: the lock becomes user_ip, with a shared_address reason),
// and a network lock never refuses an address that is itself shared
// (ip_shared), such as an office NAT inside a network an attacker sprays
// from.
func TestNetworkLockSparesCrowds(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	t.Run("shared network", func(t *testing.T) {
		s := &scorer{t: t, eng: newNetworkLockEngine(t)}
		for i := range 12 {
			s.score(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("resident%d", i), fmt.Sprintf("203.0.113.%d", 10+i), schemas.OutcomeSuccess, "")
		}
		d := s.score(t0.Add(20*time.Minute), "nobody", "203.0.113.99", schemas.OutcomeFailure, "unknown_user")
		if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserIP || !hasReason(d, schemas.ReasonSharedAddress, "no network lock on a shared network: 12 users") {
			t.Fatalf("unknown user from a shared network: %s %+v %+v, want a user_ip lock and a shared_address reason", d.Decision, d.Lock, d.Reasons)
		}
		if d := s.score(t0.Add(21*time.Minute), "resident3", "203.0.113.50", schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictAllow {
			t.Errorf("a resident of the shared network: %s %+v", d.Decision, d.Lock)
		}
	})
	t.Run("shared address in a locked network", func(t *testing.T) {
		s := &scorer{t: t, eng: newNetworkLockEngine(t)}
		const office = "192.0.2.10"
		for i := range 12 {
			s.score(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("colleague%d", i), office, schemas.OutcomeSuccess, "")
		}
		var locked *schemas.Decision
		for i := range 20 {
			d := s.score(t0.Add(20*time.Minute+time.Duration(i)*time.Second), fmt.Sprintf("victim%d", i), fmt.Sprintf("192.0.2.%d", 100+i), schemas.OutcomeFailure, "bad_password")
			if d.Lock != nil && d.Lock.Scope == schemas.ScopeNetwork {
				locked = d
				break
			}
		}
		if locked == nil || locked.Lock.Key != "192.0.2.0/24" {
			t.Fatalf("20 failures from the network set no network lock on 192.0.2.0/24: %+v", locked)
		}
		at := locked.OccurredAt.Add(time.Minute)
		if d := s.score(at, "colleague3", office, schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictAllow {
			t.Errorf("a colleague at the shared office address inside the locked network: %s %+v %+v, want allowed", d.Decision, d.Lock, d.Reasons)
		}
		if d := s.score(at, "colleague4", "192.0.2.77", schemas.OutcomeSuccess, ""); d.Decision != schemas.VerdictLockout {
			t.Errorf("an address of the locked network nobody shares: %s, want refused", d.Decision)
		}
	})
}

// TestParseNetworkLockKey: a network key is an IPv4 /24 or IPv6 /64 in
// the canonical form features.NetworkOf gives, nothing else.
func TestParseNetworkLockKey(t *testing.T) {
	for _, key := range []string{"198.51.100.0/24", "2001:db8:1:2::/64"} {
		if k, ok := ParseLockKey(schemas.ScopeNetwork, "", key); !ok || k.String() != key {
			t.Errorf("ParseLockKey(network, %q) = %+v, %v; want the network", key, k, ok)
		}
	}
	for _, key := range []string{"198.51.100.7/24", "198.51.100.0/23", "198.51.100.7", "2001:db8::/48", "2001:db8:0:0::/64", "::ffff:198.51.100.0/120", "64:ff9b::/64", "", strings.Repeat("1", 80)} {
		if _, ok := ParseLockKey(schemas.ScopeNetwork, "", key); ok {
			t.Errorf("ParseLockKey(network, %q) accepted a key that is not a network of NetworkOf", key)
		}
	}
	if _, ok := ParseLockKey(schemas.ScopeNetwork, "acme", "198.51.100.0/24"); ok {
		t.Error("a network key with a tenant was accepted")
	}
}
