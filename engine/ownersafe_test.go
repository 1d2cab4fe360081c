package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

const (
	laptopUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	phoneUA  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

// offences returns the offences on record for a lock key, 0 without one.
func (t *LockTable) offences(k lockKey) int {
	h := t.keyHash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.findLocked(h, k); e != nil {
		return e.offences
	}
	return 0
}

// TestOwnerSafeAccountLock is issue 15's scenario: an attack on one
// account from 60 networks sets the account lock (user_untrusted, and it
// escalates while the attack goes on); the owner's own logins from home on
// the laptop used for weeks are allowed or at most challenged, never
// locked out, the lock ladder of the owner's context does not grow, the
// user status shows the lock and why the owner's context is trusted, and
// a context the owner never had an allowed success from is refused.
func TestOwnerSafeAccountLock(t *testing.T) {
	eng := newGeoEngine(t)
	const home, user = "81.2.69.160", "alice"
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	score := func(at time.Time, ip, device, ua string, outcome schemas.Outcome) *schemas.Decision {
		t.Helper()
		n++
		ev := &schemas.LoginEvent{EventID: fmt.Sprintf("e%d", n), OccurredAt: at, UserID: user, IP: ip,
			Outcome: outcome, FailureReason: badPassword(outcome), DeviceID: device, UserAgent: ua}
		return mustScore(t, eng, ev, false).Decision
	}
	// Three weeks of logins from home on the laptop.
	firstSeen := t0.Add(-21 * 24 * time.Hour)
	for day := range 21 {
		if d := score(firstSeen.Add(time.Duration(day)*24*time.Hour), home, "alice-laptop", laptopUA, schemas.OutcomeSuccess); d.Decision != schemas.VerdictAllow {
			t.Fatalf("ordinary login on day %d: %s %+v", day, d.Decision, d.Reasons)
		}
	}

	// Three hours of attack: a failure every 30 s from one of 60 networks
	// (a residential /24 each in ten cities' ranges, so no address lock
	// catches it), and alice logging in from home every 20 minutes, with a
	// typo every hour.
	ownerKey := lockKey{scope: schemas.ScopeUserIP, a: user, b: home}
	accountKey := lockKey{scope: schemas.ScopeUserUntrusted, a: user}
	prefixes := []string{"86.144", "90.84", "91.64", "67.80", "73.162", "73.97", "126.72", "101.160", "177.32", "49.36"}
	accountLocked, ownerChallenged := 0, 0
	var lastOwner *schemas.Decision
	for i := range 360 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		network := i % 60
		ip := fmt.Sprintf("%s.%d.20", prefixes[network%10], 10+network/10)
		d := score(at, ip, "", phoneUA, schemas.OutcomeFailure)
		if d.Lock != nil && d.Lock.Scope == schemas.ScopeUserUntrusted {
			accountLocked++
		}
		if i%40 != 39 {
			continue
		}
		outcome := schemas.OutcomeSuccess
		if i%120 == 119 {
			outcome = schemas.OutcomeFailure // a typo
		}
		owner := score(at.Add(time.Second), home, "alice-laptop", laptopUA, outcome)
		lastOwner = owner
		switch owner.Decision {
		case schemas.VerdictLockout:
			t.Fatalf("the owner at home on her laptop (attempt %d, %s) was locked out: %+v %+v", i, outcome, owner.Lock, owner.Reasons)
		case schemas.VerdictChallenge:
			ownerChallenged++
			if !hasReason(owner, schemas.ReasonTrustedContext, "user_untrusted lock on alice", "device alice-laptop trusted since "+firstSeen.Format(time.RFC3339), "network 81.2.69.0/24 trusted since") {
				t.Errorf("owner challenged without a trusted_context reason naming the lock and since when: %+v", owner.Reasons)
			}
		}
		if got := eng.locks.offences(ownerKey); got != 0 {
			t.Fatalf("after attempt %d the owner's own context has %d offences, want 0", i, got)
		}
	}
	if accountLocked == 0 {
		t.Fatal("the attack from 60 networks never set a user_untrusted lock")
	}
	if ownerChallenged == 0 {
		t.Error("the owner was never challenged during the attack: the account lock did not meet her context")
	}
	if got := eng.locks.offences(accountKey); got < 2 {
		t.Errorf("the account lock has %d offences after three hours of attack, want an escalating ladder (>= 2)", got)
	}
	if lastOwner == nil {
		t.Fatal("no owner login scored")
	}

	// A context alice never had an allowed success from is refused, even
	// with the right password.
	at := t0.Add(3*time.Hour + time.Minute)
	if d := score(at, "102.88.54.21", "new-phone", phoneUA, schemas.OutcomeSuccess); d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserUntrusted {
		t.Errorf("an untrusted context during the attack: %s %+v, want a lockout by the user_untrusted lock", d.Decision, d.Lock)
	}

	// The status shows the account lock and why home and the laptop are
	// trusted.
	st := eng.UserStatus("", user, at)
	found := false
	for _, l := range st.Locks {
		found = found || (l.Scope == schemas.ScopeUserUntrusted && l.Key == user && l.Rule == "distributed_bruteforce")
	}
	if !found {
		t.Errorf("status locks %+v, want the user_untrusted lock set by distributed_bruteforce", st.Locks)
	}
	want := map[string]bool{"device alice-laptop": false, "network 81.2.69.0/24": false}
	for _, c := range st.Trusted {
		k := c.Kind + " " + c.Key
		if _, ok := want[k]; ok && c.FirstSeen.Equal(firstSeen) {
			want[k] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("status trusted %+v lacks %s first seen %s", st.Trusted, k, firstSeen)
		}
	}
}

// TestTrustedContextMaxAllow: with trusted_context_max: allow a trusted
// context that meets an account lock is allowed, and says why.
func TestTrustedContextMaxAllow(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"policy.yaml", "account.yaml"} {
		text, err := os.ReadFile(filepath.Join("..", "rules", "default", name))
		if err != nil {
			t.Fatal(err)
		}
		text = bytes.Replace(text, []byte("trusted_context_max: challenge"), []byte("trusted_context_max: allow"), 1)
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if set.Policy().TrustedContextMax != schemas.VerdictAllow {
		t.Fatalf("trusted_context_max %q, want allow", set.Policy().TrustedContextMax)
	}
	eng := newGeoEngine(t)
	eng.cfg.Rules = fixedRules{set}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := &schemas.LoginEvent{EventID: "home", OccurredAt: t0.Add(-7 * 24 * time.Hour), UserID: "alice", IP: "81.2.69.160", Outcome: schemas.OutcomeSuccess, DeviceID: "alice-laptop", UserAgent: laptopUA}
	mustScore(t, eng, ev, false)
	eng.locks.set(lockKey{scope: schemas.ScopeUserUntrusted, a: "alice"}, t0, "distributed_bruteforce", time.Hour, func(int) time.Duration { return time.Hour })
	ev = &schemas.LoginEvent{EventID: "home-again", OccurredAt: t0.Add(time.Minute), UserID: "alice", IP: "81.2.69.160", Outcome: schemas.OutcomeSuccess, DeviceID: "alice-laptop", UserAgent: laptopUA}
	out := mustScore(t, eng, ev, false)
	if out.Decision.Decision != schemas.VerdictAllow || !hasReason(out.Decision, schemas.ReasonTrustedContext, "at most allow") {
		t.Errorf("trusted context under an account lock with trusted_context_max allow: %s %+v", out.Decision.Decision, out.Decision.Reasons)
	}
}

// sliceHistory is a WarmSource (and TrustSource) over scored events kept
// in memory, answering as engine/history does.
type sliceHistory struct{ events []schemas.ScoredEvent }

func (h *sliceHistory) Newest(context.Context) (time.Time, error) {
	var newest time.Time
	for _, se := range h.events {
		if se.Event.OccurredAt.After(newest) {
			newest = se.Event.OccurredAt
		}
	}
	return newest, nil
}

func (h *sliceHistory) Profiles(context.Context, func(*schemas.UserProfile) error) error { return nil }

func (h *sliceHistory) Recent(_ context.Context, since time.Time, fn func(schemas.ScoredEvent) error) error {
	for _, se := range h.events {
		if !se.Event.OccurredAt.Before(since) {
			if err := fn(se); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *sliceHistory) ActiveLocks(_ context.Context, at time.Time) ([]schemas.Lock, error) {
	latest := map[string]schemas.Lock{}
	for _, se := range h.events {
		if l := se.Decision.Lock; l != nil && l.Until.After(at) && l.Until.After(latest[string(l.Scope)+" "+l.Key].Until) {
			latest[string(l.Scope)+" "+l.Key] = *l
		}
	}
	var out []schemas.Lock
	for _, l := range latest {
		out = append(out, l)
	}
	return out, nil
}

func (h *sliceHistory) TrustedContexts(_ context.Context, since time.Time, fn func(string, string, schemas.TrustedContext) error) error {
	for _, se := range h.events {
		ev := se.Event
		if !ev.Success() || se.Decision.Decision != schemas.VerdictAllow || ev.OccurredAt.Before(since) {
			continue
		}
		if ev.DeviceID != "" {
			if err := fn(ev.TenantID, ev.UserID, schemas.TrustedContext{Kind: schemas.TrustedDevice, Key: ev.DeviceID, FirstSeen: ev.OccurredAt, LastSeen: ev.OccurredAt}); err != nil {
				return err
			}
		}
		if err := fn(ev.TenantID, ev.UserID, schemas.TrustedContext{Kind: schemas.TrustedNetwork, Key: se.Features.Network, FirstSeen: ev.OccurredAt, LastSeen: ev.OccurredAt}); err != nil {
			return err
		}
	}
	return nil
}

// TestWarmUpKeepsOwnerSafeState: after a restart during an attack, the
// owner's laptop and home network, last used a week before (outside the
// warm-up's 24 h span), are still trusted, so the owner is challenged, not
// locked out; and the decisions that only reported the account lock to
// the owner add no offence to its ladder when replayed.
func TestWarmUpKeepsOwnerSafeState(t *testing.T) {
	before := newGeoEngine(t)
	const home, user = "81.2.69.160", "alice"
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var history sliceHistory
	n := 0
	score := func(eng *Engine, at time.Time, ip, device, ua string, outcome schemas.Outcome) *schemas.Decision {
		t.Helper()
		n++
		ev := &schemas.LoginEvent{EventID: fmt.Sprintf("w%d", n), OccurredAt: at, UserID: user, IP: ip, Outcome: outcome, FailureReason: badPassword(outcome), DeviceID: device, UserAgent: ua}
		out := mustScore(t, eng, ev, false)
		history.events = append(history.events, out.ScoredEvent)
		return out.Decision
	}
	for week := 3; week >= 1; week-- {
		score(before, t0.Add(-time.Duration(week)*7*24*time.Hour), home, "alice-laptop", laptopUA, schemas.OutcomeSuccess)
	}
	for i := range 12 {
		score(before, t0.Add(time.Duration(i)*20*time.Second), fmt.Sprintf("86.144.%d.20", i), "", phoneUA, schemas.OutcomeFailure)
	}
	for i := range 3 {
		if d := score(before, t0.Add(5*time.Minute+time.Duration(i)*time.Second), home, "alice-laptop", laptopUA, schemas.OutcomeSuccess); d.Decision != schemas.VerdictChallenge || d.Lock == nil {
			t.Fatalf("the owner during the attack, before the restart: %s %+v", d.Decision, d.Lock)
		}
	}
	accountKey := lockKey{scope: schemas.ScopeUserUntrusted, a: user}
	wantOffences := before.locks.offences(accountKey)

	after := newGeoEngine(t)
	st, err := after.WarmUp(context.Background(), &history)
	if err != nil {
		t.Fatal(err)
	}
	if st.TrustedContexts == 0 {
		t.Errorf("warm-up stats %+v: no trusted context loaded", st)
	}
	if got := after.locks.offences(accountKey); got != wantOffences {
		t.Errorf("after the restart the account lock has %d offences, want %d as before it (the owner's challenged logins only reported it)", got, wantOffences)
	}
	d := score(after, t0.Add(6*time.Minute), home, "alice-laptop", laptopUA, schemas.OutcomeSuccess)
	if d.Decision != schemas.VerdictChallenge || !hasReason(d, schemas.ReasonTrustedContext, "device alice-laptop trusted since "+t0.Add(-21*24*time.Hour).Format(time.RFC3339)) {
		t.Errorf("the owner after the restart: %s %+v, want a challenge as a context trusted for three weeks", d.Decision, d.Reasons)
	}
	if d := score(after, t0.Add(7*time.Minute), "102.88.54.21", "new-phone", phoneUA, schemas.OutcomeSuccess); d.Decision != schemas.VerdictLockout {
		t.Errorf("an untrusted context after the restart: %s, want lockout", d.Decision)
	}
}

// TestParseUserUntrustedLockKey: a user_untrusted key is the user id
// alone, as a user key, also when the id holds a "|" (not a user_ip key).
func TestParseUserUntrustedLockKey(t *testing.T) {
	for _, key := range []string{"alice", "team|alice", "alice@example.com"} {
		k, ok := ParseLockKey(schemas.ScopeUserUntrusted, "", key)
		if !ok || k.scope != schemas.ScopeUserUntrusted || k.a != key || k.b != "" || k.String() != key {
			t.Errorf("ParseLockKey(user_untrusted, %q) = %+v, %v; want the user id as the key", key, k, ok)
		}
	}
	if _, ok := ParseLockKey(schemas.ScopeUserUntrusted, "", strings.Repeat("x", schemas.MaxUserIDLen+1)); ok {
		t.Error("a user_untrusted key longer than a user id was accepted")
	}
}
