package engine

import (
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

var lockT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestLockTableHashCollision puts two keys under one hash: each keeps its
// own lock, a lookup never answers one for the other, and a sweep drops
// only the expired one.
func TestLockTableHashCollision(t *testing.T) {
	tab := NewLockTable()
	a := lockKey{scope: schemas.ScopeUser, a: "alice"}
	b := lockKey{scope: schemas.ScopeUserIP, a: "alice", b: "198.51.100.7"}
	absent := lockKey{scope: schemas.ScopeIP, a: "198.51.100.7"}
	const h = 0xfeedface_12345678
	s := tab.shard(h)
	s.mu.Lock()
	ea := tab.entryLocked(s, h, a)
	ea.until, ea.rule, ea.lastOffence = lockT0.Add(time.Hour), "rule_a", lockT0
	eb := tab.entryLocked(s, h, b)
	eb.until, eb.rule, eb.lastOffence = lockT0.Add(time.Minute), "rule_b", lockT0
	if tab.entryLocked(s, h, a) != ea {
		t.Fatal("a second entry for the same key")
	}
	s.mu.Unlock()
	if n := tab.Len(); n != 2 {
		t.Fatalf("Len %d, want 2", n)
	}
	at := lockT0.Add(30 * time.Second)
	if le, ok := tab.activeHashed(h, a, at); !ok || le.rule != "rule_a" {
		t.Errorf("a: %v %+v", ok, le)
	}
	if le, ok := tab.activeHashed(h, b, at); !ok || le.rule != "rule_b" {
		t.Errorf("b: %v %+v", ok, le)
	}
	if _, ok := tab.activeHashed(h, absent, at); ok {
		t.Error("a key never locked is locked")
	}
	// b expired and is old enough to drop; a is still active.
	later := lockT0.Add(50 * time.Minute)
	if removed := tab.Sweep(later, 10*time.Minute); removed != 1 {
		t.Errorf("sweep removed %d, want 1", removed)
	}
	if _, ok := tab.activeHashed(h, a, later); !ok {
		t.Error("a lost its lock in the sweep")
	}
	if n := tab.Len(); n != 1 {
		t.Errorf("Len %d after the sweep, want 1", n)
	}
}

// TestLockTableByKey checks set, escalation, lift and the filter through
// the key-hashing entry points the engine uses.
func TestLockTableByKey(t *testing.T) {
	tab := NewLockTable()
	ladder := func(prior int) time.Duration { return time.Duration(prior+1) * 10 * time.Minute }
	k := lockKey{scope: schemas.ScopeUserIP, a: "bob", b: "203.0.113.5"}
	if _, ok := tab.active(k, lockT0); ok {
		t.Fatal("locked before any lock")
	}
	until := tab.set(k, lockT0, "brute_force", time.Hour, ladder)
	if want := lockT0.Add(10 * time.Minute); !until.Equal(want) {
		t.Errorf("first lock until %s, want %s", until, want)
	}
	// The engine's per-event hashing finds the same entry.
	keys := eventLockKeys{user: "bob", ip: "203.0.113.5"}
	keys.hUser, keys.hIP = tab.stringHash(keys.user), tab.stringHash(keys.ip)
	kk, h := keys.lock(schemas.ScopeUserIP)
	if kk != k || h != tab.keyHash(k) {
		t.Fatalf("event key %+v hash %x, table %+v %x", kk, h, k, tab.keyHash(k))
	}
	for _, other := range []lockKey{{scope: schemas.ScopeUser, a: "bob"}, {scope: schemas.ScopeIP, a: "203.0.113.5"}, {scope: schemas.ScopeUserIP, a: "bob|203.0.113.5"}} {
		if _, ok := tab.active(other, lockT0); ok {
			t.Errorf("%+v is locked", other)
		}
	}
	second := tab.set(k, lockT0.Add(11*time.Minute), "brute_force", time.Hour, ladder)
	if want := lockT0.Add(31 * time.Minute); !second.Equal(want) {
		t.Errorf("escalated lock until %s, want %s", second, want)
	}
	if !tab.lift(k, lockT0.Add(12*time.Minute)) {
		t.Error("lift found no lock")
	}
	if _, ok := tab.active(k, lockT0.Add(12*time.Minute)); ok {
		t.Error("still locked after the lift")
	}
	if got := tab.Active(lockT0); len(got) != 0 {
		t.Errorf("Active lists %+v", got)
	}
}
