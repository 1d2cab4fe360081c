package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestTransitionAddressesAreSeparateSources is the NAT64 attack of issue
// 16: IPv4 clients behind one NAT64 gateway (or 6to4 relay, or Teredo
// server) used to share one /64 lock key, so a stuffing lock on one
// client refused the others; and one IPv4 client could rotate the /64s
// of its 6to4 site or its Teredo ports to be many sources. Each is now
// keyed by its embedded IPv4 address, in the locks and in the counters
// that set them.
func TestTransitionAddressesAreSeparateSources(t *testing.T) {
	dir := t.TempDir()
	const ruleFile = `rules:
  - id: address_failures
    when: ip_failures_10m >= 3
    weight: 100
    action: lockout
    scope: ip
    duration: 10m
`
	if err := os.WriteFile(filepath.Join(dir, "ip.yaml"), []byte(ruleFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		attacker    [3]string // the forms of one IPv4 client, 192.0.2.1
		neighbor    string    // another IPv4 client (198.51.100.1)
		attackerKey string
	}{
		{"nat64", [3]string{"64:ff9b::c000:201", "64:ff9b::c000:201", "64:ff9b::c000:201"}, "64:ff9b::c633:6401", "192.0.2.1"},
		// 6to4: one site, three of its /64s.
		{"6to4", [3]string{"2002:c000:201:1::1", "2002:c000:201:2::1", "2002:c000:201:3::1"}, "2002:c633:6401::1", "192.0.2.1"},
		// Teredo: server 65.54.227.120, three client ports; the port and
		// the client address are inverted.
		{"teredo", [3]string{"2001:0:4136:e378:8000:63bf:3fff:fdfe", "2001:0:4136:e378:8000:63be:3fff:fdfe", "2001:0:4136:e378:8000:63bd:3fff:fdfe"},
			"2001:0:4136:e378:8000:63bf:39cc:9bfe", "192.0.2.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng, _ := testkit.Engine(t, dir, engine.Config{})
			at := coreT0
			var locked *schemas.Decision
			for i, ip := range tc.attacker {
				ev := loginEvent(t, fmt.Sprintf("a%d", i), fmt.Sprintf("victim%d", i), ip, at, schemas.OutcomeFailure)
				s, err := eng.Score(ev, false)
				if err != nil {
					t.Fatal(err)
				}
				locked = s.Decision
				at = at.Add(time.Second)
			}
			if locked.Decision != schemas.VerdictLockout || locked.Lock == nil {
				t.Fatalf("third failure from %s: %s, want a lockout", tc.attacker[2], locked.Decision)
			}
			if locked.Lock.Key != tc.attackerKey {
				t.Errorf("lock key %q, want the embedded IPv4 %q", locked.Lock.Key, tc.attackerKey)
			}
			ev := loginEvent(t, "n", "neighbor", tc.neighbor, at, schemas.OutcomeSuccess)
			s, err := eng.Score(ev, false)
			if err != nil {
				t.Fatal(err)
			}
			if s.Decision.Decision != schemas.VerdictAllow {
				t.Errorf("neighbor %s behind the same gateway: %s (lock %+v), want allow", tc.neighbor, s.Decision.Decision, s.Decision.Lock)
			}
			if got := s.Features.IPAttempts1h; got != 1 {
				t.Errorf("neighbor's ip_attempts_1h %d, want 1 (its own attempt only)", got)
			}
			attacker, err := schemas.ParseIP(tc.attacker[0])
			if err != nil {
				t.Fatal(err)
			}
			if st := eng.IPStatus(attacker, at); len(st.Locks) != 1 || st.Counters.Get("ip_failures_10m") != 3 {
				t.Errorf("IPStatus(%s): %d locks, counters %v; want the lock and 3 failures", tc.attacker[0], len(st.Locks), st.Counters)
			}
		})
	}
}
