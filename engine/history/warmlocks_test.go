package history

import (
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

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
	lockout := decided(schemas.VerdictLockout, 80, schemas.Reason{Rule: "failure_burst", Weight: 80})
	events := []schemas.ScoredEvent{
		event("longest", "alice", "81.2.69.160", setAt, schemas.OutcomeFailure, lockout, decidedAt(setAt),
			locked(schemas.ScopeUser, "alice", setAt.Add(24*time.Hour), "failure_burst")),
		event("just-set", "bob", "81.2.69.161", justSet, schemas.OutcomeFailure, lockout, decidedAt(justSet),
			locked(schemas.ScopeUser, "bob", justSet.Add(24*time.Hour), "failure_burst")),
		event("month", "mallory", "203.0.113.7", setAt, schemas.OutcomeFailure, lockout, decidedAt(setAt),
			locked(schemas.ScopeUser, "victim", setAt.Add(30*24*time.Hour), "failure_burst")),
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
