package engine_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// The status endpoints read their counters from the feature store.
var _ engine.CounterReader = (*state.Store)(nil)

// stateOnly exposes only the State port of a store, so that the engine
// cannot find its other ports by type assertion.
type stateOnly struct{ engine.State }

// The status counters come from Config.Counters: a state that is only a
// State gives none unless the counters are passed explicitly.
func TestConfigCounters(t *testing.T) {
	for _, tc := range []struct {
		name         string
		withCounters bool
	}{{"counters passed", true}, {"no counters", false}} {
		t.Run(tc.name, func(t *testing.T) {
			store := testkit.Store(t)
			cfg := engine.Config{State: stateOnly{store}}
			if tc.withCounters {
				cfg.Counters = store
			}
			eng, _ := testkit.Engine(t, "", cfg)
			for i := range 3 {
				ev := loginEvent(t, fmt.Sprintf("e%d", i), "alice", "198.51.100.7", coreT0.Add(time.Duration(i)*time.Second), schemas.OutcomeFailure)
				if _, err := eng.Score(ev, false); err != nil {
					t.Fatal(err)
				}
			}
			got := eng.UserStatus("", "alice", coreT0.Add(time.Minute)).Counters
			if tc.withCounters && len(got) == 0 {
				t.Errorf("no counters with Config.Counters set")
			}
			if !tc.withCounters && len(got) != 0 {
				t.Errorf("counters %v without Config.Counters and a state that reads none", got)
			}
		})
	}
}

// Bounds of the engine built by newClockedEngine: the shipped policy's
// longest lock, serve's default future skew, and how long serve's sweep
// keeps an offence record.
const (
	longestLock   = 24 * time.Hour
	futureSkew    = 5 * time.Minute
	offenceRecord = 48 * time.Hour
)

// newClockedEngine is an engine on the shipped rules whose clock reads
// *now, with serve's future skew.
func newClockedEngine(t *testing.T, now *time.Time) *engine.Engine {
	t.Helper()
	eng, _ := testkit.Engine(t, "", engine.Config{Clock: func() time.Time { return *now }, MaxFutureSkew: futureSkew})
	if got := eng.Rules().Policy().LongestLock(); got != longestLock {
		t.Fatalf("the shipped policy's longest lock is %s, the test assumes %s", got, longestLock)
	}
	return eng
}

// lockDecision is a decision setting lock at at.
func lockDecision(at time.Time, scope schemas.LockScope, key string, until time.Time, rule string) *schemas.Decision {
	return &schemas.Decision{EventID: "d-" + key, OccurredAt: at, DecidedAt: at, Decision: schemas.VerdictLockout,
		Lock: &schemas.Lock{Scope: scope, Key: key, Until: until, Rule: rule}}
}

// TestApplyDecisionBoundsLocks: whatever authenticated it, a decision
// from outside the process sets only a lock this engine could have set.
// The refused ones change nothing, not even the number of keys held.
func TestApplyDecisionBoundsLocks(t *testing.T) {
	now := coreT0
	longUser := strings.Repeat("u", schemas.MaxUserIDLen+1)
	tests := []struct {
		name string
		d    *schemas.Decision
		want error // nil: applied
	}{
		{"the longest lock", lockDecision(now, schemas.ScopeUser, "alice", now.Add(longestLock), "failure_burst"), nil},
		{"set at the skew limit", lockDecision(now.Add(futureSkew), schemas.ScopeUser, "alice", now.Add(futureSkew+time.Hour), "failure_burst"), nil},
		{"user_ip, IPv6 /64", lockDecision(now, schemas.ScopeUserIP, "alice|2001:db8:1:2::/64", now.Add(time.Hour), "failure_burst"), nil},
		{"until the year 9999", lockDecision(now, schemas.ScopeUser, "alice", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "failure_burst"), engine.ErrLockTooLong},
		{"a second over the longest", lockDecision(now, schemas.ScopeUser, "alice", now.Add(longestLock+2*time.Second), "failure_burst"), engine.ErrLockTooLong},
		{"set past the skew limit", lockDecision(now.Add(futureSkew+time.Second), schemas.ScopeUser, "alice", now.Add(time.Hour), "failure_burst"), engine.ErrLockAhead},
		{"a lift from the year 9999", lockDecision(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), schemas.ScopeUser, "alice", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), engine.AdminLiftRule), engine.ErrLockAhead},
		{"user key too long", lockDecision(now, schemas.ScopeUser, longUser, now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"user_ip user too long", lockDecision(now, schemas.ScopeUserIP, longUser+"|198.51.100.7", now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"device key too long", lockDecision(now, schemas.ScopeDevice, strings.Repeat("d", schemas.MaxDeviceIDLen+1), now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"ip key not an address", lockDecision(now, schemas.ScopeIP, "not-an-address", now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"user_ip without an address", lockDecision(now, schemas.ScopeUserIP, "alice|", now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"unknown scope", lockDecision(now, "tenant", "acme", now.Add(time.Hour), "failure_burst"), engine.ErrBadLockKey},
		{"rule too long", lockDecision(now, schemas.ScopeUser, "alice", now.Add(time.Hour), strings.Repeat("r", schemas.MaxRuleLen+1)), engine.ErrBadLockRule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := newClockedEngine(t, &now)
			err := eng.ApplyDecision(tc.d)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ApplyDecision = %v, want it applied", err)
				}
				if tc.d.Lock.Rule != engine.AdminLiftRule && len(eng.Locks().Active(tc.d.OccurredAt)) != 1 {
					t.Errorf("lock not active: %+v", eng.Locks().Active(tc.d.OccurredAt))
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("ApplyDecision = %v, want %v", err, tc.want)
			}
			if n := eng.Locks().Len(); n != 0 {
				t.Errorf("a refused decision left %d keys in the lock table", n)
			}
		})
	}
}

// TestForgedLocksLeaveTheTable floods the lock table with decisions on
// distinct keys, as a writer to the decisions topic (or a leaked key)
// could: each set as far ahead as the clock skew allows and as long as
// the policy allows, and others that try to outlast that (until 9999,
// set in 9999). The refused ones never enter; the admitted ones all leave
// at the first sweep after skew + max(longest lock, offence record): the
// table is bounded by what arrives in that window, not by what ever
// arrived.
func TestForgedLocksLeaveTheTable(t *testing.T) {
	now := coreT0
	eng := newClockedEngine(t, &now)
	const n = 5000
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	admitted, refused := 0, 0
	for i := range n {
		var d *schemas.Decision
		key := fmt.Sprintf("flood-%d", i)
		switch i % 4 {
		case 0: // the most the bounds allow
			d = lockDecision(now.Add(futureSkew), schemas.ScopeUser, key, now.Add(futureSkew+longestLock), "failure_burst")
		case 1: // an ordinary lock
			d = lockDecision(now, schemas.ScopeUserIP, key+"|198.51.100.7", now.Add(10*time.Minute), "failure_burst")
		case 2: // never expiring
			d = lockDecision(now, schemas.ScopeUser, key, far, "failure_burst")
		case 3: // set in the far future, within the ladder
			d = lockDecision(far.Add(-time.Hour), schemas.ScopeIP, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), far, "failure_burst")
		}
		if err := eng.ApplyDecision(d); err != nil {
			refused++
		} else {
			admitted++
		}
	}
	if admitted != n/2 || refused != n/2 {
		t.Fatalf("admitted %d, refused %d; want %d each", admitted, refused, n/2)
	}
	if got := eng.Locks().Len(); got != admitted {
		t.Fatalf("lock table holds %d keys after the flood, want the %d admitted", got, admitted)
	}
	bound := futureSkew + max(longestLock, offenceRecord)
	if removed := eng.Locks().Sweep(now.Add(bound-time.Minute), offenceRecord); removed == admitted {
		t.Errorf("a sweep before the bound removed every key: the bound is not tight")
	}
	eng.Locks().Sweep(now.Add(bound+time.Second), offenceRecord)
	if got := eng.Locks().Len(); got != 0 {
		t.Errorf("lock table holds %d keys a sweep after %s: the flood outlives its bound", got, bound)
	}
}

// liftDecision is the record of an administrator's lift of the user lock
// on user at at, as Lift publishes it.
func liftDecision(at time.Time, user string) *schemas.Decision {
	return &schemas.Decision{EventID: "lift-" + user, UserID: user, OccurredAt: at, DecidedAt: at, Decision: schemas.VerdictAllow,
		Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: user, Until: at, Rule: engine.AdminLiftRule}}
}

// TestLiftNeverReachesALaterLock: a lift lifts the lock it was made for,
// but the same lift replayed later, or read after a newer lock (decisions
// on other partitions arrive in any order), leaves a lock set more than
// the future skew after it in place.
func TestLiftNeverReachesALaterLock(t *testing.T) {
	t0 := coreT0
	first := lockDecision(t0.Add(-10*time.Minute), schemas.ScopeUser, "alice", t0.Add(time.Hour), "failure_burst")
	lift := liftDecision(t0, "alice")
	later := lockDecision(t0.Add(futureSkew+time.Minute), schemas.ScopeUser, "alice", t0.Add(2*time.Hour), "account_takeover")
	locked := func(eng *engine.Engine, at time.Time) string {
		if l := eng.UserStatus("", "alice", at).Locks; len(l) == 1 {
			return l[0].Rule
		}
		return ""
	}
	apply := func(t *testing.T, eng *engine.Engine, ds ...*schemas.Decision) {
		t.Helper()
		for _, d := range ds {
			if err := eng.ApplyDecision(d); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("replayed", func(t *testing.T) {
		now := t0
		eng := newClockedEngine(t, &now)
		apply(t, eng, first, lift)
		if r := locked(eng, t0); r != "" {
			t.Fatalf("the lift did not lift the lock it was made for (locked by %s)", r)
		}
		now = later.OccurredAt
		apply(t, eng, later, lift)
		if r := locked(eng, now); r != "account_takeover" {
			t.Errorf("after the lift was replayed, locked by %q, want the later lock", r)
		}
	})
	t.Run("read after the later lock", func(t *testing.T) {
		now := later.OccurredAt
		eng := newClockedEngine(t, &now)
		apply(t, eng, later, lift, first)
		if r := locked(eng, now); r != "account_takeover" {
			t.Errorf("locked by %q, want the later lock", r)
		}
	})
	t.Run("admin lift of a lock set within the skew", func(t *testing.T) {
		now := t0
		eng := newClockedEngine(t, &now)
		apply(t, eng, lockDecision(t0.Add(futureSkew), schemas.ScopeUser, "alice", t0.Add(time.Hour), "failure_burst"))
		if _, err := eng.Lift(t.Context(), schemas.ScopeUser, "", "alice", "soc", t0); err != nil {
			t.Fatalf("Lift of a lock set by an event ahead of the clock: %v", err)
		}
		if r := locked(eng, t0.Add(futureSkew)); r != "" {
			t.Errorf("still locked by %s after the lift", r)
		}
	})
}

// TestStatusLookupAllocations: a status lookup allocates only its
// answer (issue 21 point 5: at 10 000 lookups a second the collector is
// in the API's tail): a user's counters in one slice, its trusted
// contexts in one, each trusted network's name in one; an address's
// counters in one, its key and its network's name in one each. The
// counters were a map (four allocations), the trusted contexts were
// copied twice, a network's name took two, and the address's lock keys
// grew a slice.
func TestStatusLookupAllocations(t *testing.T) {
	store := testkit.Store(t)
	eng, _ := testkit.Engine(t, "", engine.Config{State: store})
	ev := loginEvent(t, "alloc-1", "alice", "198.51.100.7", coreT0, schemas.OutcomeSuccess)
	if _, err := eng.Score(ev, false); err != nil {
		t.Fatal(err)
	}
	at := coreT0.Add(time.Minute)
	if st := eng.UserStatus("", "alice", at); len(st.Trusted) != 1 || st.Counters.Get("user_successes_15m") != 1 {
		t.Fatalf("alice's status %+v: want her network trusted and one success", st)
	}
	addr := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name   string
		lookup func()
		want   float64
	}{
		{"user", func() { eng.UserStatus("", "alice", at) }, 3},
		{"address", func() { eng.IPStatus(addr, at) }, 3},
	} {
		if got := testing.AllocsPerRun(200, tc.lookup); got > tc.want {
			t.Errorf("the %s status lookup allocates %v times, want at most %v", tc.name, got, tc.want)
		}
	}
}
