package engine_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

var coreT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newTestEngine(t *testing.T, recent int) *engine.Engine {
	t.Helper()
	return newTestEngineState(t, recent, nil)
}

// newTestEngineState is newTestEngine with the store seen through wrap
// (nil: the store itself).
func newTestEngineState(t *testing.T, recent int, wrap func(*state.Store) engine.State) *engine.Engine {
	t.Helper()
	cfg := engine.Config{RecentDecisions: recent}
	if wrap != nil {
		cfg.State = wrap(testkit.Store(t))
	}
	eng, _ := testkit.Engine(t, "", cfg)
	return eng
}

func loginEvent(t *testing.T, id, user, ip string, at time.Time, outcome schemas.Outcome) *schemas.LoginEvent {
	t.Helper()
	ev := &schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: user, IP: ip, Outcome: outcome, FailureReason: "bad_password", UserAgent: "curl/8.0"}
	if outcome == schemas.OutcomeSuccess {
		ev.FailureReason = ""
	}
	if err := schemas.Validate(ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestDedupeAndLastDecisions checks the tables behind dedupe, GET
// /v1/decisions/{id} and the status endpoints' last decision, through
// Score, ScoreInto and the lookups.
func TestDedupeAndLastDecisions(t *testing.T) {
	eng := newTestEngine(t, 0)
	var f schemas.Features
	first, err := eng.ScoreInto(loginEvent(t, "e1", "alice", "198.51.100.7", coreT0, schemas.OutcomeFailure), &f, false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || first.Features != &f || f.UserID != "alice" {
		t.Fatalf("first score: duplicate %v, features %p (want %p), user %q", first.Duplicate, first.Features, &f, f.UserID)
	}
	// The same event again (a redelivery): the earlier decision, state
	// untouched. (Another attempt under the same id is a conflict:
	// TestReusedEventIDIsAConflict.)
	again, err := eng.Score(loginEvent(t, "e1", "alice", "198.51.100.7", coreT0, schemas.OutcomeFailure), false)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Decision != first.Decision {
		t.Fatalf("duplicate: %v, decision %p, want the first %p", again.Duplicate, again.Decision, first.Decision)
	}
	if got := eng.Metrics().EventsTotal.Load(); got != 1 {
		t.Errorf("events counted %d, want 1", got)
	}
	if d, ok := eng.Decision("e1"); !ok || d != first.Decision {
		t.Errorf("Decision(e1) = %v, %v", d, ok)
	}
	for _, id := range []string{"e2", "e", "e1 ", ""} {
		if _, ok := eng.Decision(id); ok {
			t.Errorf("Decision(%q) found a decision", id)
		}
	}
	second, err := eng.Score(loginEvent(t, "e2", "alice", "2001:db8:1:2::5", coreT0.Add(time.Minute), schemas.OutcomeSuccess), false)
	if err != nil {
		t.Fatal(err)
	}
	if st := eng.UserStatus("", "alice", coreT0.Add(time.Minute)); st.LastDecision != second.Decision {
		t.Errorf("alice's last decision %+v, want e2's", st.LastDecision)
	}
	if st := eng.UserStatus("", "bob", coreT0); st.LastDecision != nil {
		t.Errorf("bob has a last decision %+v", st.LastDecision)
	}
	if st := eng.IPStatus(netip.MustParseAddr("198.51.100.7"), coreT0); st.LastDecision != first.Decision {
		t.Errorf("198.51.100.7's last decision %+v, want e1's", st.LastDecision)
	}
	// IPv6 by /64: another address of the same /64 finds it.
	if st := eng.IPStatus(netip.MustParseAddr("2001:db8:1:2::99"), coreT0); st.LastDecision != second.Decision {
		t.Errorf("2001:db8:1:2::/64's last decision %+v, want e2's", st.LastDecision)
	}
	// A dry run reads the dedupe table but adds nothing.
	if _, err := eng.Score(loginEvent(t, "e3", "carol", "198.51.100.8", coreT0, schemas.OutcomeFailure), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := eng.Decision("e3"); ok {
		t.Error("a dry run was remembered")
	}
}

// TestRecentEviction fills the tables past their capacity: old event ids
// are forgotten, recent ones never are, and nothing is ever found under
// an id it was not stored under.
func TestRecentEviction(t *testing.T) {
	const capacity = 4096 // 16 per shard: the minimum
	eng := newTestEngine(t, capacity)
	const n = 5 * capacity
	decisions := make([]*schemas.Decision, n)
	for i := range n {
		ev := loginEvent(t, fmt.Sprintf("ev-%d", i), fmt.Sprintf("user-%d", i%700), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), coreT0.Add(time.Duration(i)*time.Second), schemas.OutcomeSuccess)
		s, err := eng.Score(ev, false)
		if err != nil {
			t.Fatal(err)
		}
		if s.Duplicate {
			t.Fatalf("event %d taken for a duplicate", i)
		}
		decisions[i] = s.Decision
	}
	found := 0
	for i := range n {
		d, ok := eng.Decision(fmt.Sprintf("ev-%d", i))
		if ok && d != decisions[i] {
			t.Fatalf("ev-%d answers another event's decision %s", i, d.EventID)
		}
		if ok {
			found++
		}
		// The last shard-capacity ids of every shard are certainly kept;
		// the last few hundred overall certainly are.
		if i >= n-200 && !ok {
			t.Errorf("recent ev-%d was forgotten", i)
		}
	}
	if found > capacity+capacity/4 || found < capacity/2 {
		t.Errorf("%d of %d ids remembered with capacity %d", found, n, capacity)
	}
	for u := range 700 {
		st := eng.UserStatus("", fmt.Sprintf("user-%d", u), coreT0)
		if st.LastDecision == nil {
			t.Fatalf("user-%d has no last decision", u)
		}
		if want := decisions[n-700+(u-(n-700)%700+700)%700]; st.LastDecision != want {
			t.Errorf("user-%d: last decision %s, want %s", u, st.LastDecision.EventID, want.EventID)
		}
	}
}
