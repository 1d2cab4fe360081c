package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestCatchUpFollowsPartition is a rebalance in one process, on a real
// ClickHouse: two instances warm up from the same (empty) history; a owns
// partition 3 and scores its first events, recording them; the partition
// moves to b (which, as every instance does, followed a's lock decisions
// meanwhile), then back to a. On each assignment the new owner catches
// the partition up from history (Assigned) before scoring, and must then
//
//   - answer the events redelivered after the last commit (scored and
//     recorded by the previous owner) with the decisions they got,
//     without scoring them again;
//   - decide every later event exactly as one engine that scored all of
//     them does: the user's windows, the profile (an unfamiliar city),
//     the lock still active, and the offence ladder of a key locked
//     twice by the previous owner and once more by the new one, whose
//     third lock escalates once more (the locks read from the decisions
//     topic and from history count once).
//
// An instance that skips the catch-up decides differently: the test
// checks that too, so that it fails if the catch-up does nothing.
func TestCatchUpFollowsPartition(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	script := newLoginScript(t, 3)
	add := script.add
	// Three bursts of guesses against victim from one address, the
	// first lock expiring before the second: a owns the partition for
	// the first two, b for the third. alice teaches her profile on a and
	// is scored from Paris on b; mallory is locked on a and still locked
	// on b.
	burst := func(name string, at time.Duration) {
		for i := range 12 {
			add(fmt.Sprintf("victim-%s%d", name, i), "victim", cityIP("Paris", 7), at+time.Duration(i)*15*time.Second, schemas.OutcomeFailure)
		}
	}
	for i := range 12 {
		add(fmt.Sprintf("alice-%d", i), "alice", cityIP("London", 1), time.Duration(i)*20*time.Minute, schemas.OutcomeSuccess)
	}
	burst("a", 3*time.Hour)
	for i := range 12 {
		add(fmt.Sprintf("mallory-%d", i), "mallory", cityIP("Paris", 9), 3*time.Hour+40*time.Minute+time.Duration(i)*10*time.Second, schemas.OutcomeFailure)
	}
	burst("b", 3*time.Hour+50*time.Minute)
	moveToB := len(script.evs)
	burst("c", 4*time.Hour+40*time.Minute)
	for i := range 6 {
		add(fmt.Sprintf("mallory-late-%d", i), "mallory", cityIP("Paris", 9), 4*time.Hour+45*time.Minute+time.Duration(i)*10*time.Second, schemas.OutcomeFailure)
	}
	add("alice-paris", "alice", cityIP("Paris", 3), 5*time.Hour, schemas.OutcomeSuccess)
	moveToA := len(script.evs)
	burst("d", 6*time.Hour)
	add("alice-london", "alice", cityIP("London", 1), 6*time.Hour+30*time.Minute, schemas.OutcomeSuccess)
	evs := script.evs

	const partition = 3
	// messages are events [from, to) as partition 3 at their index as
	// offset.
	messages := func(from, to int) []engine.Message {
		var out []engine.Message
		for i := from; i < to; i++ {
			v, err := json.Marshal(evs[i])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, engine.Message{Key: []byte(evs[i].UserID), Value: v, Partition: partition, Offset: int64(i)})
		}
		return out
	}
	// own scores events [from, to) on eng as its stream does, records
	// them, and has every other instance follow their lock decisions.
	own := func(eng *engine.Engine, from, to int, followers ...*engine.Engine) map[string]engine.Scored {
		t.Helper()
		b := eng.Prepare(messages(from, to))
		if len(b.Rejected) > 0 {
			t.Fatalf("rejected: %v", b.Rejected[0].Err)
		}
		if err := eng.Record(ctx, b); err != nil {
			t.Fatal(err)
		}
		out := map[string]engine.Scored{}
		for _, se := range b.Scored {
			out[se.Event.EventID] = engine.Scored{ScoredEvent: se}
			for _, f := range followers {
				_ = f.ApplyDecision(se.Decision)
			}
		}
		return out
	}
	one := warmEngine(t, nil) // one instance that sees every event
	want := map[string][]byte{}
	for _, ev := range evs {
		want[ev.EventID] = encodedWithout(t, scoreCopy(t, one, ev).Decision)
	}

	a, b, cold := warmEngine(t, w), warmEngine(t, w), warmEngine(t, w)
	for _, eng := range []*engine.Engine{a, b, cold} {
		if _, err := eng.WarmUp(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	check := func(who string, got map[string]engine.Scored, from, to int) {
		t.Helper()
		for _, ev := range evs[from:to] {
			if g := encodedWithout(t, got[ev.EventID].Decision); !bytes.Equal(g, want[ev.EventID]) {
				t.Errorf("%s decided %s:\n got %s\nwant %s", who, ev.EventID, g, want[ev.EventID])
			}
		}
	}
	check("a", own(a, 0, moveToB, b, cold), 0, moveToB)

	// The partition moves to b. The last three events a scored were not
	// committed: b gets them again.
	const redelivered = 3
	st, err := b.CatchUp(ctx, partition)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("b caught up: %+v", st)
	if st.From != 0 || st.Events != moveToB || st.Next != int64(moveToB) {
		t.Errorf("b caught up %+v; want from offset 0, the %d events a scored, next offset %d", st, moveToB, moveToB)
	}
	again := own(b, moveToB-redelivered, moveToA, a, cold)
	if n := b.Metrics().EventsTotal.Load(); n != int64(moveToA-moveToB) {
		t.Errorf("b scored %d events, want the %d new ones (the redelivered ones are answered from the catch-up)", n, moveToA-moveToB)
	}
	check("b", again, moveToB-redelivered, moveToA)

	// Back to a, which catches up on b's events only.
	st, err = a.CatchUp(ctx, partition)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a caught up: %+v", st)
	if st.From != int64(moveToB) || st.Events != moveToA-moveToB {
		t.Errorf("a caught up %+v; want from offset %d the %d events b scored", st, moveToB, moveToA-moveToB)
	}
	check("a after b", own(a, moveToA, len(evs)), moveToA, len(evs))

	// Without the catch-up, the new owner decides otherwise.
	stale := own(cold, moveToB, moveToA)
	var differ int
	for _, ev := range evs[moveToB:moveToA] {
		if !bytes.Equal(encodedWithout(t, stale[ev.EventID].Decision), want[ev.EventID]) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("an owner that skipped the catch-up decided every event as one engine does: the script tests nothing")
	}
	t.Logf("without the catch-up %d of %d events are decided differently", differ, moveToA-moveToB)
}
