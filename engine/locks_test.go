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
	if !tab.lift(k, lockT0.Add(12*time.Minute), -1) {
		t.Error("lift found no lock")
	}
	if _, ok := tab.active(k, lockT0.Add(12*time.Minute)); ok {
		t.Error("still locked after the lift")
	}
	if got := tab.Active(lockT0); len(got) != 0 {
		t.Errorf("Active lists %+v", got)
	}
}

// TestLockTableStatusIndex: the per-user and per-address lookups of the
// status endpoints find exactly the locks a scan of the whole table
// finds, and a sweep drops the index entries of the keys it drops.
func TestLockTableStatusIndex(t *testing.T) {
	tab := NewLockTable()
	ladder := func(prior int) time.Duration { return time.Duration(prior+1) * 10 * time.Minute }
	users := []string{"alice", "bob", "carol|x", "dave"}
	ips := []string{"198.51.100.1", "198.51.100.2", "2001:db8:1:2::/64"}
	// A mix of scopes, some set long ago (expired), some now.
	for i := range 60 {
		user, ip := users[i%len(users)], ips[(i/len(users))%len(ips)]
		at := lockT0.Add(time.Duration(i) * time.Minute)
		if i%5 == 0 {
			at = lockT0.Add(-3 * time.Hour)
		}
		switch i % 4 {
		case 0:
			tab.set(lockKey{scope: schemas.ScopeUser, a: user}, at, "r_user", time.Hour, ladder)
		case 1:
			tab.set(lockKey{scope: schemas.ScopeIP, a: ip}, at, "r_ip", time.Hour, ladder)
		case 2:
			tab.set(lockKey{scope: schemas.ScopeDevice, a: "dev-" + user}, at, "r_dev", time.Hour, ladder)
		default:
			tab.set(lockKey{scope: schemas.ScopeUserIP, a: user, b: ip}, at, "r_pair", time.Hour, ladder)
		}
	}
	now := lockT0.Add(30 * time.Minute)
	check := func(when string) {
		t.Helper()
		for _, u := range users {
			want := tab.activeMatching(now, func(k lockKey) bool {
				return (k.scope == schemas.ScopeUser || k.scope == schemas.ScopeUserIP) && k.a == u
			})
			if got := tab.activeForUser(u, now); !equalLocks(got, want) {
				t.Errorf("%s: locks of user %s = %+v, want %+v", when, u, got, want)
			}
		}
		for _, ip := range ips {
			want := tab.activeMatching(now, func(k lockKey) bool {
				return (k.scope == schemas.ScopeIP && k.a == ip) || (k.scope == schemas.ScopeUserIP && k.b == ip)
			})
			if got := tab.activeForIP(ip, "", now); !equalLocks(got, want) {
				t.Errorf("%s: locks of address %s = %+v, want %+v", when, ip, got, want)
			}
		}
	}
	check("before the sweep")
	if got := tab.activeForUser("alice", now); len(got) == 0 {
		t.Fatal("the test sets no active lock for alice: it checks nothing")
	}
	// A sweep at the end of everything's offence history drops every key,
	// and with them the index.
	tab.Sweep(now.Add(5*time.Hour), time.Hour)
	if n := tab.Len(); n != 0 {
		t.Fatalf("sweep left %d keys", n)
	}
	check("after the sweep")
	for _, x := range []*pairIndex{&tab.pairsByUser, &tab.pairsByIP} {
		for i := range x.shards {
			if n := len(x.shards[i].m); n != 0 {
				t.Errorf("the index still holds %d sides after every key was swept", n)
			}
		}
	}
}

func equalLocks(a, b []schemas.Lock) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Scope != b[i].Scope || a[i].Key != b[i].Key || !a[i].Until.Equal(b[i].Until) || a[i].Rule != b[i].Rule {
			return false
		}
	}
	return true
}
