package engine_test

import (
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// deviceLockRules lock devices two ways: a rule with scope device (which
// must require has_device_id), and the policy's default scope for the deny
// list (which cannot).
const deviceLockRules = `
policy:
  default_scope: device
  deny: {users: [mallory]}
rules:
  - id: device_failures
    when: has_device_id && failure && user_failures_15m >= 3
    weight: 80
    action: lockout
    scope: device
`

// TestDeviceLocksNeedADeviceID: an event without a device_id never sets
// a device lock, whatever asks for one, so strangers with the same browser
// are never refused; with a device_id the lock is on that id.
func TestDeviceLocksNeedADeviceID(t *testing.T) {
	enricher, err := enrich.NewEnricher(enrich.EnricherConfig{}) // user agents only
	if err != nil {
		t.Fatal(err)
	}
	defer enricher.Close()
	eng, _ := testkit.Engine(t, testkit.RulesDir(t, deviceLockRules), engine.Config{Enricher: enricher})
	const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	at := coreT0
	score := func(user, ip, deviceID string, outcome schemas.Outcome) *schemas.Decision {
		t.Helper()
		at = at.Add(time.Second)
		ev := loginEvent(t, user+at.String(), user, ip, at, outcome)
		ev.UserAgent, ev.DeviceID = browser, deviceID
		s, err := eng.Score(ev, false)
		if err != nil {
			t.Fatal(err)
		}
		return s.Decision
	}

	// The deny list locks with the default scope, device: without a
	// device_id the lock falls back to user_ip.
	d := score("mallory", "198.51.100.7", "", schemas.OutcomeFailure)
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserIP || d.Lock.Key != "mallory|198.51.100.7" {
		t.Fatalf("denied user without device_id: %s lock %+v, want a user_ip lock", d.Decision, d.Lock)
	}
	if d := score("stranger", "203.0.113.20", "", schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
		t.Fatalf("a stranger with the same browser: %s %+v, want allow", d.Decision, d.Lock)
	}
	// With a device_id, the lock is on that id.
	d = score("mallory", "198.51.100.7", "dev-mallory", schemas.OutcomeFailure)
	if d.Lock == nil || d.Lock.Scope != schemas.ScopeDevice || d.Lock.Key != "dev-mallory" {
		t.Fatalf("denied user with device_id: lock %+v, want a device lock on dev-mallory", d.Lock)
	}
	// The device rule needs has_device_id: failures without one set no
	// device lock at all.
	for range 4 {
		d = score("bob", "192.0.2.10", "", schemas.OutcomeFailure)
		if d.Decision != schemas.VerdictAllow || d.Lock != nil {
			t.Fatalf("bob's failures without device_id: %s lock %+v, want allow and no lock", d.Decision, d.Lock)
		}
	}
	if d := score("stranger", "203.0.113.21", "", schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
		t.Fatalf("a stranger with the same browser after bob's failures: %s %+v, want allow", d.Decision, d.Lock)
	}
	for range 3 {
		d = score("bob", "192.0.2.10", "dev-bob", schemas.OutcomeFailure)
	}
	if d.Lock == nil || d.Lock.Scope != schemas.ScopeDevice || d.Lock.Key != "dev-bob" || d.Lock.Rule != "device_failures" {
		t.Fatalf("bob's failures with device_id: lock %+v, want device_failures on dev-bob", d.Lock)
	}
}
