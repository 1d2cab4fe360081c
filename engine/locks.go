package engine

import (
	"hash/maphash"
	"sort"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// lockKey identifies a lock without building a string on the hot path:
// user and ip are the event's user_id and IP key (the address, or its /64
// for IPv6); device is a device key.
type lockKey struct {
	scope schemas.LockScope
	a, b  string
}

func (k lockKey) String() string {
	if k.scope == schemas.ScopeUserIP {
		return k.a + "|" + k.b
	}
	return k.a
}

// lockEntry is one lock and the offence history of its key.
type lockEntry struct {
	until       time.Time
	rule        string
	offences    int       // locks set on this key within the reset window
	lastOffence time.Time // event time the last lock was set
	liftedAt    time.Time // when an administrator last lifted the lock
}

const lockShards = 64

// LockTable holds active locks and the offence counts that escalate their
// durations. It is owned by the engine (never a cache that may drop
// entries), safe for concurrent use, and expires entries by event time.
// Memory: about 150 bytes per key plus its strings.
type LockTable struct {
	seed   maphash.Seed
	shards [lockShards]lockShard
}

type lockShard struct {
	mu sync.Mutex
	m  map[lockKey]*lockEntry
}

// NewLockTable returns an empty table.
func NewLockTable() *LockTable {
	t := &LockTable{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[lockKey]*lockEntry)
	}
	return t
}

func (t *LockTable) shard(k lockKey) *lockShard {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(string(k.scope))
	h.WriteString(k.a)
	h.WriteString(k.b)
	return &t.shards[h.Sum64()%lockShards]
}

// active returns the lock on k at event time at, if any.
func (t *LockTable) active(k lockKey, at time.Time) (lockEntry, bool) {
	s := t.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	var out lockEntry
	if ok {
		out = *e
	}
	s.mu.Unlock()
	return out, ok && at.Before(out.until)
}

// set locks k from at for the duration the ladder gives for the prior
// offences on record (forgotten once the last one is resetAfter old); it
// never shortens an active lock. It returns the resulting expiry.
func (t *LockTable) set(k lockKey, at time.Time, rule string, resetAfter time.Duration, duration func(prior int) time.Duration) time.Time {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		e = &lockEntry{}
		s.m[k] = e
	}
	if !e.lastOffence.IsZero() && at.Sub(e.lastOffence) >= resetAfter {
		e.offences = 0
	}
	d := duration(e.offences)
	until := at.Add(d)
	if until.After(e.until) {
		e.until = until
		e.rule = rule
	}
	e.offences++
	e.lastOffence = at
	return e.until
}

// restore installs a lock set at setAt elsewhere: read back from history
// at start-up, or from another instance's decision. A lock set before an
// administrator lifted the key stays lifted.
func (t *LockTable) restore(k lockKey, setAt, until time.Time, rule string) {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		e = &lockEntry{}
		s.m[k] = e
	}
	if !setAt.After(e.liftedAt) && !e.liftedAt.IsZero() {
		return
	}
	if until.After(e.until) {
		e.until, e.rule = until, rule
		if e.offences == 0 {
			e.offences, e.lastOffence = 1, setAt
		}
	}
}

// lift removes the active lock on k; the offence history stays so the
// next lock still escalates. It reports whether a lock was active at at.
func (t *LockTable) lift(k lockKey, at time.Time) bool {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || !at.Before(e.until) {
		return false
	}
	e.until = time.Time{}
	e.liftedAt = at
	return true
}

// Sweep drops keys whose lock expired and whose offence history is older
// than keep, relative to the event time now.
func (t *LockTable) Sweep(now time.Time, keep time.Duration) (removed int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if !now.Before(e.until) && now.Sub(e.lastOffence) > keep {
				delete(s.m, k)
				removed++
			}
		}
		s.mu.Unlock()
	}
	return removed
}

// Active lists the locks active at now, ordered by scope and key.
func (t *LockTable) Active(now time.Time) []schemas.Lock {
	return t.activeMatching(now, func(lockKey) bool { return true })
}

// activeMatching lists the locks active at now whose key match accepts,
// ordered by scope and key; it builds key strings only for those.
func (t *LockTable) activeMatching(now time.Time, match func(lockKey) bool) []schemas.Lock {
	out := []schemas.Lock{}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if now.Before(e.until) && match(k) {
				out = append(out, schemas.Lock{Scope: k.scope, Key: k.String(), Until: e.until, Rule: e.rule})
			}
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scope != out[j].Scope {
			return out[i].Scope < out[j].Scope
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Len returns the number of keys held (active locks and offence records).
func (t *LockTable) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
