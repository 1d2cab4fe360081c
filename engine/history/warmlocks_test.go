package history

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// ladderRules lock user_ip on a failure burst and the network on a
// failure of the user "spray", with the default policy's ladder.
const ladderRules = `rules:
  - id: failure_burst
    description: Five failures from one network in 15 minutes.
    when: failure && user_network_failures_15m >= 5
    weight: 40
    action: lockout
    scope: user_ip
  - id: network_spray
    description: The spray account locks its network.
    when: failure && user_id == "spray"
    weight: 60
    action: lockout
    scope: network
`

// TestWarmUpKeepsOffenceLadder: the escalation ladder survives a restart
// exactly, also for offences older than the replayed day. With the
// shipped policy (10m, 30m, 2h, 24h; offence_reset_after 24h), a user_ip
// key locked 60, 40 and 20 hours before the newest event (each within a
// day of the next) is on its fourth rung: its next lock lasts 24 h. A
// network key locked 70 and 20 hours before (a 50-hour gap resets the
// ladder) is on its second: 30 minutes. Replaying the day alone would
// give 30 minutes to both.
func TestWarmUpKeepsOffenceLadder(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	anchor := minutes(0)
	const attacker, network = "203.0.113.7", "198.51.100.0/24"
	lockout := decided(schemas.VerdictLockout, 80, schemas.Reason{Rule: "failure_burst", Weight: 40})
	var events []schemas.ScoredEvent
	add := func(id, user, ip string, hoursBefore float64, scope schemas.LockScope, key string, d time.Duration) {
		at := anchor.Add(-time.Duration(hoursBefore * float64(time.Hour)))
		events = append(events, event(id, user, ip, at, schemas.OutcomeFailure, failed("bad_password"), lockout, decidedAt(at), locked(scope, key, at.Add(d), "failure_burst")))
	}
	add("o1", "victim", attacker, 60, schemas.ScopeUserIP, "victim|"+attacker, 10*time.Minute)
	add("o2", "victim", attacker, 40, schemas.ScopeUserIP, "victim|"+attacker, 30*time.Minute)
	add("o3", "victim", attacker, 20, schemas.ScopeUserIP, "victim|"+attacker, 2*time.Hour)
	add("n1", "alice", "198.51.100.9", 70, schemas.ScopeNetwork, network, 10*time.Minute)
	add("n2", "bob", "198.51.100.10", 20, schemas.ScopeNetwork, network, 10*time.Minute)
	// An attempt that met the active lock reports it: not an offence.
	at := anchor.Add(-20*time.Hour + time.Minute)
	events = append(events, event("met", "victim", attacker, at, schemas.OutcomeFailure, failed("bad_password"),
		decided(schemas.VerdictLockout, 0, schemas.Reason{Rule: schemas.ReasonLocked, Detail: "user_ip lock on victim|" + attacker + " until " + anchor.Add(-18*time.Hour).Format(time.RFC3339) + " (set by failure_burst)"}),
		decidedAt(at), locked(schemas.ScopeUserIP, "victim|"+attacker, anchor.Add(-18*time.Hour), "failure_burst")))
	events = append(events, event("newest", "carol", "81.2.69.160", anchor, schemas.OutcomeSuccess))
	if err := w.WriteHistory(ctx, events); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(ladderRules), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, _ := testkit.Engine(t, dir, engine.Config{})
	st, err := eng.WarmUp(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offences != 3 {
		t.Errorf("warm-up read %d offences before its span, want 3 (o1, o2, n1)", st.Offences)
	}
	n := 0
	score := func(at time.Time, user, ip string) *schemas.Decision {
		t.Helper()
		n++
		ev := validLogin(t, schemas.LoginEvent{EventID: fmt.Sprintf("after%d", n), OccurredAt: at, UserID: user, IP: ip, Outcome: schemas.OutcomeFailure, FailureReason: "bad_password"})
		return scoreCopy(t, eng, ev).Decision
	}
	// A failure burst on the victim from the attacker's address: the
	// fourth rung.
	start := anchor.Add(time.Hour)
	var d *schemas.Decision
	for i := range 5 {
		d = score(start.Add(time.Duration(i)*time.Minute), "victim", attacker)
	}
	if d.Lock == nil || d.Lock.Scope != schemas.ScopeUserIP || !d.Lock.Until.Equal(d.OccurredAt.Add(24*time.Hour)) {
		t.Errorf("the fourth offence on victim|%s after the restart: lock %+v, want 24 h (the ladder's fourth rung)", attacker, d.Lock)
	}
	// The network key: its ladder was reset by the 50-hour gap, so the
	// offence 20 hours ago is its only one.
	if d := score(start, "spray", "198.51.100.77"); d.Lock == nil || d.Lock.Scope != schemas.ScopeNetwork || d.Lock.Key != network || !d.Lock.Until.Equal(start.Add(30*time.Minute)) {
		t.Errorf("the next lock of %s after the restart: %+v, want 30 minutes (the second rung)", network, d.Lock)
	}
}

// TestWarmUpRefusesOverlongLocks: a lock row in history that lasts longer
// than the policy's longest lock (24 h with the shipped rules) — written
// by anything with write access to the table, or by an older release — is
// not restored at start-up (neither replayed from the event that set it
// nor restored as active) and is counted once, while locks of the longest
// duration are, although history rounds their end up to the second.
func TestWarmUpRefusesOverlongLocks(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	// The newest event, the warm-up's anchor, is mid-second: history
	// rounds its lock's end up to 10:30:01 the next day, 24 h and 0.5 s
	// after it was set.
	justSet := minutes(30).Add(500 * time.Millisecond)
	setAt := justSet.Add(-time.Hour)
	events := []schemas.ScoredEvent{
		lockoutEvent("longest", "alice", "81.2.69.160", setAt, locked(schemas.ScopeUser, "alice", setAt.Add(24*time.Hour), "failure_burst")),
		lockoutEvent("just-set", "bob", "81.2.69.161", justSet, locked(schemas.ScopeUser, "bob", justSet.Add(24*time.Hour), "failure_burst")),
		lockoutEvent("month", "mallory", "203.0.113.7", setAt, locked(schemas.ScopeUser, "victim", setAt.Add(30*24*time.Hour), "failure_burst")),
	}
	if err := w.WriteHistory(ctx, events); err != nil {
		t.Fatal(err)
	}
	eng, _ := testkit.Engine(t, "", engine.Config{})
	st, err := eng.WarmUp(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Anchor.Equal(justSet) {
		t.Fatalf("warm-up anchored at %s, want the newest event %s", st.Anchor, justSet)
	}
	if st.Locks != 2 || st.LocksRefused != 1 {
		t.Errorf("warm-up restored %d locks and refused %d, want 2 and 1", st.Locks, st.LocksRefused)
	}
	if l := eng.UserStatus("", "victim", justSet).Locks; len(l) != 0 {
		t.Errorf("a 30-day lock from history was restored: %+v", l)
	}
	for _, user := range []string{"alice", "bob"} {
		if l := eng.UserStatus("", user, justSet).Locks; len(l) != 1 {
			t.Errorf("the 24 h lock on %s from history was not restored: %+v", user, l)
		}
	}
}
