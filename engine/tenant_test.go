package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// tenantLockRules lock a user after three failures, and an address after
// four failures whoever they are for.
const tenantLockRules = `
rules:
  - {id: user_failures, when: failure && user_failures_15m >= 3, weight: 80, action: lockout, scope: user}
  - {id: address_failures, when: failure && ip_failures_10m >= 4, weight: 80, action: lockout, scope: ip}
`

// newRulesEngine returns an engine with the rules in yaml and a fresh
// store.
func newRulesEngine(t *testing.T, yaml string) *engine.Engine {
	t.Helper()
	eng, _ := testkit.Engine(t, testkit.RulesDir(t, yaml), engine.Config{})
	return eng
}

// tenantScorer scores the attempts of users of tenants, a second apart.
type tenantScorer struct {
	t   *testing.T
	eng *engine.Engine
	at  time.Time
	n   int
}

func (s *tenantScorer) score(tenant, user, ip string, outcome schemas.Outcome) *schemas.Decision {
	s.t.Helper()
	s.at = s.at.Add(time.Second)
	s.n++
	ev := loginEvent(s.t, fmt.Sprintf("t%d", s.n), user, ip, s.at, outcome)
	ev.TenantID = tenant
	sc, err := s.eng.Score(ev, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return sc.Decision
}

// TestTenantLocksApart: a user lock on acme's bob does not refuse globex's
// bob nor the default tenant's; it shows with its tenant in the decision
// and the status lookups, and lifts, replicates and parses with it.
func TestTenantLocksApart(t *testing.T) {
	eng := newRulesEngine(t, tenantLockRules)
	s := &tenantScorer{t: t, eng: eng, at: coreT0}
	for range 2 {
		if d := s.score("acme", "bob", "198.51.100.7", schemas.OutcomeFailure); d.Decision != schemas.VerdictAllow {
			t.Fatalf("acme's bob, early failure: %s %+v", d.Decision, d.Reasons)
		}
	}
	// Failures of globex's bob from elsewhere do not add to acme's.
	for range 2 {
		s.score("globex", "bob", "203.0.113.9", schemas.OutcomeFailure)
	}
	if d := s.score("globex", "bob", "203.0.113.10", schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
		t.Fatalf("globex's bob after 2 failures of his own and 2 of acme's bob: %s %+v, want allow", d.Decision, d.Reasons)
	}
	d := s.score("acme", "bob", "198.51.100.8", schemas.OutcomeFailure)
	want := schemas.Lock{Scope: schemas.ScopeUser, Key: "bob", TenantID: "acme", Rule: "user_failures"}
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != want.Scope || d.Lock.Key != want.Key || d.Lock.TenantID != want.TenantID {
		t.Fatalf("acme's bob, third failure: %s lock %+v, want %+v", d.Decision, d.Lock, want)
	}
	lock := *d.Lock

	if d := s.score("globex", "bob", "203.0.113.10", schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
		t.Errorf("globex's bob during acme's bob's lock: %s %+v, want allow", d.Decision, d.Reasons)
	}
	if d := s.score("", "bob", "192.0.2.1", schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
		t.Errorf("the default tenant's bob during acme's bob's lock: %s %+v, want allow", d.Decision, d.Reasons)
	}
	d = s.score("acme", "bob", "192.0.2.50", schemas.OutcomeSuccess)
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || *d.Lock != lock || !hasLockedDetail(d, "user lock on bob in tenant acme until ") {
		t.Errorf("acme's bob from elsewhere: %s lock %+v reasons %+v, want refused by %+v", d.Decision, d.Lock, d.Reasons, lock)
	}

	at := s.at
	for _, tt := range []struct {
		tenant string
		locks  int
		fails  float64
	}{{"acme", 1, 3}, {"globex", 0, 2}, {"", 0, 0}} {
		st := eng.UserStatus(tt.tenant, "bob", at)
		if len(st.Locks) != tt.locks || st.Counters.Get("user_failures_15m") != tt.fails {
			t.Errorf("UserStatus(%q, bob): locks %+v, %v failures; want %d locks, %v failures", tt.tenant, st.Locks, st.Counters.Get("user_failures_15m"), tt.locks, tt.fails)
		}
		if tt.locks > 0 && st.Locks[0] != lock {
			t.Errorf("UserStatus(%q, bob) lock %+v, want %+v", tt.tenant, st.Locks[0], lock)
		}
		if tt.tenant != "" && (st.LastDecision == nil || st.LastDecision.UserID != "bob") {
			t.Errorf("UserStatus(%q, bob): last decision %+v", tt.tenant, st.LastDecision)
		}
	}

	// Another instance following the decisions locks acme's bob only.
	follower := newRulesEngine(t, tenantLockRules)
	follower.ApplyDecision(d)
	if st := follower.UserStatus("acme", "bob", at); len(st.Locks) != 1 || st.Locks[0] != lock {
		t.Errorf("follower: acme's bob locks %+v, want %+v", st.Locks, lock)
	}
	if st := follower.UserStatus("globex", "bob", at); len(st.Locks) != 0 {
		t.Errorf("follower: globex's bob locks %+v, want none", st.Locks)
	}

	ctx := context.Background()
	if _, err := eng.Lift(ctx, schemas.ScopeUser, "globex", "bob", "test", at); !errors.Is(err, engine.ErrNoSuchLock) {
		t.Errorf("lifting globex's bob: %v, want ErrNoSuchLock", err)
	}
	if _, err := eng.Lift(ctx, schemas.ScopeUser, "", "bob", "test", at); !errors.Is(err, engine.ErrNoSuchLock) {
		t.Errorf("lifting the default tenant's bob: %v, want ErrNoSuchLock", err)
	}
	if _, err := eng.Lift(ctx, schemas.ScopeIP, "acme", "198.51.100.7", "test", at); !errors.Is(err, engine.ErrBadLockKey) {
		t.Errorf("lifting an ip lock of a tenant: %v, want ErrBadLockKey", err)
	}
	// No text names another tenant's user: a key or tenant holding the
	// user key's separator is refused, from a lift or a decision.
	for _, bad := range []struct{ tenant, key string }{{"", "acme\x00bob"}, {"ac\x00me", "bob"}} {
		if _, err := eng.Lift(ctx, schemas.ScopeUser, bad.tenant, bad.key, "test", at); !errors.Is(err, engine.ErrBadLockKey) {
			t.Errorf("lifting %q of tenant %q: %v, want ErrBadLockKey", bad.key, bad.tenant, err)
		}
		forged := &schemas.Decision{EventID: "forged", UserID: "bob", OccurredAt: at,
			Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: bad.key, TenantID: bad.tenant, Until: at, Rule: engine.AdminLiftRule}}
		if err := follower.ApplyDecision(forged); !errors.Is(err, engine.ErrBadLockKey) {
			t.Errorf("applying a lift of %q of tenant %q: %v, want ErrBadLockKey", bad.key, bad.tenant, err)
		}
	}
	lift, err := eng.Lift(ctx, schemas.ScopeUser, "acme", "bob", "test", at)
	if err != nil {
		t.Fatal(err)
	}
	if lift.Lock == nil || lift.Lock.TenantID != "acme" || lift.Lock.Key != "bob" {
		t.Errorf("lift record lock %+v, want acme's bob", lift.Lock)
	}
	follower.ApplyDecision(lift)
	for name, e := range map[string]*engine.Engine{"engine": eng, "follower": follower} {
		if st := e.UserStatus("acme", "bob", at); len(st.Locks) != 0 {
			t.Errorf("%s after the lift: acme's bob locks %+v", name, st.Locks)
		}
	}
}

// TestOneAddressAcrossTenantsIsOneAttacker: failures from one address for
// users of two tenants count for the address together.
func TestOneAddressAcrossTenantsIsOneAttacker(t *testing.T) {
	eng := newRulesEngine(t, tenantLockRules)
	s := &tenantScorer{t: t, eng: eng, at: coreT0}
	const attacker = "198.51.100.66"
	s.score("acme", "alice", attacker, schemas.OutcomeFailure)
	s.score("globex", "alice", attacker, schemas.OutcomeFailure)
	s.score("acme", "carol", attacker, schemas.OutcomeFailure)
	d := s.score("globex", "carol", attacker, schemas.OutcomeFailure)
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeIP || d.Lock.Key != attacker || d.Lock.TenantID != "" {
		t.Fatalf("fourth failure from one address over two tenants: %s lock %+v, want an ip lock with no tenant", d.Decision, d.Lock)
	}
	if d := s.score("", "dave", attacker, schemas.OutcomeSuccess); d.Decision != schemas.VerdictLockout {
		t.Errorf("the locked address for a user of the default tenant: %s, want lockout", d.Decision)
	}
	st := eng.IPStatus(netip.MustParseAddr(attacker), s.at)
	if st.Counters.Get("ip_failures_10m") != 4 || st.Counters.Get("ip_distinct_users_10m") != 5 {
		t.Errorf("address counters %v, want 4 failures by 5 users (alice and carol of two tenants, dave)", st.Counters)
	}
}

// hasLockedDetail reports whether d has a "locked" reason starting with
// prefix.
func hasLockedDetail(d *schemas.Decision, prefix string) bool {
	for _, r := range d.Reasons {
		if r.Rule == schemas.ReasonLocked && len(r.Detail) >= len(prefix) && r.Detail[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}
