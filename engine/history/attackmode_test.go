package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestAttackModeChangesAreKept: the engine's start and end of attack mode
// reach the attack_mode_changes table of a real ClickHouse with the batch
// they happened in, once each, at their event time.
func TestAttackModeChangesAreKept(t *testing.T) {
	dsn, w := recordingDatabase(t)
	ctx := testContext(t)
	eng := warmEngine(t, w)
	base := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	n := 0
	scoreAll := func(user func(i int) string, outcome schemas.Outcome, from time.Time, every time.Duration, count int) {
		t.Helper()
		batch := &engine.Batch{}
		for i := range count {
			n++
			ev := browserLogin(t, schemas.LoginEvent{EventID: fmt.Sprintf("am-%d", n), OccurredAt: from.Add(time.Duration(i) * every), UserID: user(i),
				IP: fmt.Sprintf("198.51.%d.%d", 100+i/200, 1+i%200), Outcome: outcome}, "unknown_user")
			sc, err := eng.Score(ev, false)
			if err != nil {
				t.Fatal(err)
			}
			batch.Scored = append(batch.Scored, sc.ScoredEvent)
		}
		if err := eng.Record(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	regular := func(i int) string { return fmt.Sprintf("user-%d", i%50) }
	scoreAll(regular, schemas.OutcomeSuccess, base, time.Minute, 60)
	scoreAll(func(i int) string { return fmt.Sprintf("leaked-%d", i) }, schemas.OutcomeFailure, base.Add(time.Hour), 5*time.Second, 60)
	started := eng.AttackMode()
	if !started.On {
		t.Fatalf("the burst did not turn attack mode on: %+v", started)
	}
	scoreAll(regular, schemas.OutcomeSuccess, base.Add(time.Hour+10*time.Minute), time.Minute, 60)
	ended := eng.AttackMode()
	if ended.On {
		t.Fatalf("attack mode still on after an hour of calm: %+v", ended)
	}
	scoreAll(regular, schemas.OutcomeSuccess, base.Add(3*time.Hour), time.Minute, 1) // nothing new to store

	conn := testConn(t, dsn)
	var at time.Time
	var on uint8
	var failures uint32
	var got []string
	forEachRow(t, conn, "SELECT at, started, failures_15m FROM attack_mode_changes FINAL ORDER BY at", []any{&at, &on, &failures}, func() {
		if on == 1 && int(failures) < engine.DefaultAttackModeConfig().MinFailures {
			t.Errorf("the start is stored with %d failures in 15 min, below the minimum volume", failures)
		}
		got = append(got, fmt.Sprintf("%s %d", at.UTC().Format(time.RFC3339), on))
	})
	want := []string{started.Since.Format(time.RFC3339) + " 1", ended.Since.Format(time.RFC3339) + " 0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attack_mode_changes:\n%v\nwant\n%v", got, want)
	}
	if n := queryUint64(t, conn, "SELECT count() FROM attack_mode_changes"); n != 2 {
		t.Errorf("%d rows before merging, want 2 (each change stored once)", n)
	}
}
