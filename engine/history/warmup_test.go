package history

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// warmEngine builds an engine with the shipped rules, the test GeoIP
// database and a fresh store, recording to w (nil: recording nothing).
func warmEngine(t *testing.T, w *Writer) *engine.Engine {
	t.Helper()
	enr, err := enrich.NewEnricher(enrich.EnricherConfig{CityPath: filepath.Join("..", "..", "testdata", "geoip", "City-Test.mmdb")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enr.Close() })
	var rec engine.Recorder
	if w != nil {
		rec.History = w
	}
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: enr, Recorder: rec})
	return eng
}

// scoreCopy scores a copy of ev, which another engine can then score as
// it was.
func scoreCopy(t *testing.T, eng *engine.Engine, ev *schemas.LoginEvent) engine.Scored {
	t.Helper()
	c := *ev
	sc, err := eng.Score(&c, false)
	if err != nil {
		t.Fatalf("scoring %s: %v", ev.EventID, err)
	}
	return sc
}

// encodedWithout encodes a decision with decided_at cleared: the one part
// of a decision that may differ when it is given again.
func encodedWithout(t *testing.T, d *schemas.Decision) []byte {
	t.Helper()
	c := *d
	c.DecidedAt = time.Time{}
	b, err := schemas.EncodeDecision(nil, &c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scoreAndStore scores evs one at a time on eng (copies, see scoreCopy)
// and writes each to history through w, as an engine that then dies has;
// it returns each stored decision (encodedWithout) by event id, and how
// many of them set a lock.
func scoreAndStore(t *testing.T, eng *engine.Engine, w *Writer, evs []*schemas.LoginEvent) (stored map[string][]byte, locks int) {
	t.Helper()
	ctx := testContext(t)
	stored = map[string][]byte{}
	for _, ev := range evs {
		sc := scoreCopy(t, eng, ev)
		if err := w.WriteHistory(ctx, []schemas.ScoredEvent{sc.ScoredEvent}); err != nil {
			t.Fatal(err)
		}
		stored[ev.EventID] = encodedWithout(t, sc.Decision)
		if sc.Decision.Lock != nil {
			locks++
		}
	}
	return stored, locks
}

// TestWarmUpInEventTime is issue 17's crash, in one process: events two
// weeks older than the wall clock (inside no wall-clock window) are scored
// and stored by one engine, which then "dies"; a second engine warms up
// from history. Anchored at the newest event, it must
//
//   - answer every stored event_id with the stored decision, byte for
//     byte but decided_at, without scoring it again;
//   - then decide every later event exactly as the first engine, which
//     never stopped, decides it: the windows, the profile (an unfamiliar
//     city), the lock still active, and the escalation of a key whose
//     first lock has expired (the second lock is longer).
func TestWarmUpInEventTime(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	script := newLoginScript(t, 14)
	add := script.add
	// alice logs in from London for hours; a burst of guesses locks
	// victim out from one address, twice (the first lock expires); the
	// restart comes between the two bursts and while mallory is locked.
	// mallory's attempts are stamped mid-second, so her lock would end
	// mid-second but for the rounding that lets history keep it exactly.
	for i := range 12 {
		add(fmt.Sprintf("alice-%d", i), "alice", cityIP("London", 1), time.Duration(i)*20*time.Minute, schemas.OutcomeSuccess)
	}
	for i := range 12 {
		add(fmt.Sprintf("victim-a%d", i), "victim", cityIP("Paris", 7), 3*time.Hour+time.Duration(i)*15*time.Second, schemas.OutcomeFailure)
	}
	for i := range 12 {
		add(fmt.Sprintf("mallory-%d", i), "mallory", cityIP("Paris", 9), 3*time.Hour+40*time.Minute+time.Duration(i)*10*time.Second+250*time.Millisecond, schemas.OutcomeFailure)
	}
	restartAfter := len(script.evs)
	for i := range 12 {
		add(fmt.Sprintf("victim-b%d", i), "victim", cityIP("Paris", 7), 3*time.Hour+50*time.Minute+time.Duration(i)*15*time.Second, schemas.OutcomeFailure)
	}
	for i := range 6 {
		add(fmt.Sprintf("mallory-late-%d", i), "mallory", cityIP("Paris", 9), 3*time.Hour+45*time.Minute+time.Duration(i)*10*time.Second, schemas.OutcomeFailure)
	}
	add("alice-paris", "alice", cityIP("Paris", 3), 4*time.Hour+30*time.Minute, schemas.OutcomeSuccess)
	add("alice-london", "alice", cityIP("London", 1), 5*time.Hour+30*time.Minute, schemas.OutcomeSuccess)
	evs := script.evs

	first := warmEngine(t, w)
	stored, locks := scoreAndStore(t, first, w, evs[:restartAfter])
	if locks == 0 {
		t.Fatal("the script set no lock before the restart: it tests nothing")
	}

	second := warmEngine(t, w)
	st, err := second.WarmUp(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	newest := evs[restartAfter-1].OccurredAt
	t.Logf("warm-up: %+v", st)
	if !st.Anchor.Equal(newest) || st.Events != restartAfter || st.Locks == 0 {
		t.Errorf("warm-up anchored at %s with %d events and %d locks; want the newest event %s, all %d events, the active lock",
			st.Anchor, st.Events, st.Locks, newest, restartAfter)
	}
	if !second.EventTime().Equal(newest.Truncate(time.Second)) {
		t.Errorf("EventTime after warm-up %s, want %s to the second", second.EventTime(), newest)
	}
	// Redelivered: the stored decision, not scored again.
	for _, ev := range evs[:restartAfter] {
		sc := scoreCopy(t, second, ev)
		if !sc.Duplicate {
			t.Errorf("redelivered %s was scored again", ev.EventID)
			continue
		}
		if got := encodedWithout(t, sc.Decision); !bytes.Equal(got, stored[ev.EventID]) {
			t.Errorf("redelivered %s:\n got %s\nwant %s", ev.EventID, got, stored[ev.EventID])
		}
	}
	if got := second.Metrics().EventsTotal.Load(); got != 0 {
		t.Errorf("the warmed engine scored %d redelivered events", got)
	}
	// Later events: the same decisions as the engine that never stopped.
	var lockouts, challenges, familiar int
	for _, ev := range evs[restartAfter:] {
		want, got := scoreCopy(t, first, ev), scoreCopy(t, second, ev)
		if w, g := encodedWithout(t, want.Decision), encodedWithout(t, got.Decision); !bytes.Equal(w, g) {
			t.Errorf("%s after the restart:\n got %s\nwant %s", ev.EventID, g, w)
		}
		// The familiarity counts are rebuilt by the warm-up: loaded
		// profiles and the replayed day give the same risk, within the
		// decay of the loaded counts (all stamped at the last success).
		if want.Features != nil && got.Features != nil {
			if d := want.Features.FamiliarityRisk - got.Features.FamiliarityRisk; d > 1 || d < -1 {
				t.Errorf("%s after the restart: familiarity_risk %v, want %v", ev.EventID, got.Features.FamiliarityRisk, want.Features.FamiliarityRisk)
			}
			if want.Features.FamiliarityRisk > 0 {
				familiar++
			}
		}
		switch want.Decision.Decision {
		case schemas.VerdictLockout:
			lockouts++
		case schemas.VerdictChallenge:
			challenges++
		}
	}
	if lockouts == 0 || challenges == 0 || familiar == 0 {
		t.Errorf("after the restart %d lockouts, %d challenges and %d unfamiliar contexts: the script no longer exercises locks and profiles", lockouts, challenges, familiar)
	}
}
