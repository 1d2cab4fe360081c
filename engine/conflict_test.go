package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestReusedEventIDIsAConflict is the attack of issue 16.3: after
// mallory's success with event_id dup-x, six failures for victim under the
// same id must not get mallory's allow (which hid them: the victim's
// counters stayed at 0). Each is refused as a conflict and changes
// nothing; the victim's next genuine failures are counted from zero, as
// the refused ones were never scored. A redelivery of mallory's event is
// still a duplicate, and so is the same address written IPv4-mapped.
func TestReusedEventIDIsAConflict(t *testing.T) {
	eng := newTestEngine(t, 0)
	mallory := loginEvent(t, "dup-x", "mallory", "203.0.113.9", coreT0, schemas.OutcomeSuccess)
	first, err := eng.Score(mallory, false)
	if err != nil || first.Decision.Decision != schemas.VerdictAllow {
		t.Fatalf("mallory's success: %+v, %v", first.Decision, err)
	}
	for i := range 6 {
		victim := loginEvent(t, "dup-x", "victim", "198.51.100.77", coreT0.Add(time.Duration(i+1)*time.Second), schemas.OutcomeFailure)
		sc, err := eng.Score(victim, false)
		var ce *engine.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, engine.ErrEventIDConflict) {
			t.Fatalf("victim's failure %d under mallory's event_id: %+v, %v; want a ConflictError", i+1, sc.Decision, err)
		}
		if ce.EventID != "dup-x" || ce.Field != "user_id" {
			t.Errorf("conflict %+v, want event_id dup-x and field user_id", ce)
		}
	}
	if got := eng.Metrics().ConflictsTotal.Load(); got != 6 {
		t.Errorf("ConflictsTotal = %d, want 6", got)
	}
	if got := eng.Metrics().EventsTotal.Load(); got != 1 {
		t.Errorf("EventsTotal = %d, want 1: a conflict is not scored", got)
	}
	// The refused failures left no trace: the victim's next failure is the
	// first its counters see.
	next, err := eng.Score(loginEvent(t, "v-1", "victim", "198.51.100.77", coreT0.Add(10*time.Second), schemas.OutcomeFailure), false)
	if err != nil {
		t.Fatal(err)
	}
	if next.Features.UserFailures1m != 1 {
		t.Errorf("victim's failures in the last minute after the conflicts = %d, want 1", next.Features.UserFailures1m)
	}

	// Each field that identifies the attempt makes a conflict, named.
	for field, ev := range map[string]*schemas.LoginEvent{
		"ip":          loginEvent(t, "dup-x", "mallory", "203.0.113.10", coreT0, schemas.OutcomeSuccess),
		"outcome":     loginEvent(t, "dup-x", "mallory", "203.0.113.9", coreT0, schemas.OutcomeFailure),
		"occurred_at": loginEvent(t, "dup-x", "mallory", "203.0.113.9", coreT0.Add(time.Millisecond), schemas.OutcomeSuccess),
		"tenant_id": func() *schemas.LoginEvent {
			ev := loginEvent(t, "dup-x", "mallory", "203.0.113.9", coreT0, schemas.OutcomeSuccess)
			ev.TenantID = "other"
			return ev
		}(),
	} {
		for _, dryRun := range []bool{false, true} {
			_, err := eng.Score(ev, dryRun)
			var ce *engine.ConflictError
			if !errors.As(err, &ce) || ce.Field != field {
				t.Errorf("dup-x with another %s (dry run %v): %v; want a conflict on %s", field, dryRun, err, field)
			}
		}
	}
	// The same attempt again is a duplicate, with the first decision.
	for _, ip := range []string{"203.0.113.9", "::ffff:203.0.113.9"} {
		again, err := eng.Score(loginEvent(t, "dup-x", "mallory", ip, coreT0, schemas.OutcomeSuccess), false)
		if err != nil || !again.Duplicate || again.Decision != first.Decision {
			t.Errorf("mallory's event again from %s: duplicate %v, %v; want the first decision", ip, again.Duplicate, err)
		}
	}
}
