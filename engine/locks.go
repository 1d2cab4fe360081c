package engine

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// lockKey identifies a lock without building a string on the hot path:
// a is the user key (schemas.UserKey: the tenant and the user_id) for the
// scopes that name a user, the IP key (the address, or its /64 for IPv6)
// for ip, the network (features.NetworkOf, in CIDR form) for network, the
// device key for device; b is the IP key of user_ip.
type lockKey struct {
	scope schemas.LockScope
	a, b  string
}

// String is the key's text form in decisions, status lookups and lifts
// (schemas.Lock.Key): the user_id without its tenant, "user_id|ip" for
// user_ip. The tenant is apart (tenant).
func (k lockKey) String() string {
	a := k.a
	if k.scope.HasUser() {
		_, a = schemas.SplitUserKey(a)
	}
	if k.scope == schemas.ScopeUserIP {
		return a + "|" + k.b
	}
	return a
}

// tenant is the tenant of a key that names a user ("" for the default
// tenant and for the other scopes).
func (k lockKey) tenant() string {
	if !k.scope.HasUser() {
		return ""
	}
	tenant, _ := schemas.SplitUserKey(k.a)
	return tenant
}

// lock is the lock on k until until, set by rule, as decisions and status
// lookups show it.
func (k lockKey) lock(until time.Time, rule string) schemas.Lock {
	return schemas.Lock{Scope: k.scope, Key: k.String(), TenantID: k.tenant(), Until: until, Rule: rule}
}

// lockEntry is one lock and the offence history of its key.
type lockEntry struct {
	key         lockKey
	next        *lockEntry // another key with the same hash (rare)
	until       time.Time
	rule        string
	setAt       time.Time // event time the lock ending at until was set
	offences    int       // locks set on this key within the reset window
	lastOffence time.Time // event time the last lock was set
	liftedAt    time.Time // when an administrator last lifted the lock
	// shown is the lock (until, rule) as decisions show it, and
	// shownDetail the detail of their "locked" reason (lockedDetail):
	// activeHashed makes them when an attempt first meets the lock as it
	// is now, so the attempts an active lock refuses (an attack's, one
	// after another) share them instead of formatting both each.
	shown       schemas.Lock
	shownDetail string
}

const lockShards = 64

// lockFilterBits is the size of the table's presence filter: 2^18 bits,
// 32 KiB, small enough to stay in the cache the hot path shares.
const lockFilterBits = 18

// lockFilter has a bit set for the hash of every key the table holds (and
// for keys it dropped since the last sweep): a clear bit proves a key
// absent without touching the shards. With K keys a lookup of an absent
// key reaches a shard with probability about K / 2^18. It pays:
// BenchmarkPipeline/users=200k without it took 22.6 µs of CPU per event
// against 19.3 µs with it (medians of 3 alternating runs, 2026-12-04,
// docs/features-performance.md, "Fast paths").
type lockFilter [1 << lockFilterBits / 64]atomic.Uint64

func (f *lockFilter) add(h uint64) {
	i := h >> (64 - lockFilterBits)
	f[i/64].Or(1 << (i % 64))
}

func (f *lockFilter) mayHave(h uint64) bool {
	i := h >> (64 - lockFilterBits)
	return f[i/64].Load()&(1<<(i%64)) != 0
}

// LockTable holds active locks and the offence counts that escalate their
// durations. It is owned by the engine (never a cache that may drop
// entries), safe for concurrent use, and expires entries by event time.
//
// Keys are indexed by a 64-bit hash of scope and key strings (computed
// once per string per event by the engine, see lockHashes), and every hit
// is checked against the key itself: different keys with one hash are
// chained, so a collision never merges two locks. Memory: about 170 bytes
// per key plus its strings.
type LockTable struct {
	seed   maphash.Seed
	filter atomic.Pointer[lockFilter]
	keys   atomic.Int64 // entries held, for Len
	shards [lockShards]lockShard
	// The user_ip keys by user and by address, so the status lookups
	// find a user's or an address's locks without scanning the table.
	// Locked after a shard, never before.
	pairsByUser pairIndex
	pairsByIP   pairIndex
}

// pairIndex maps one side of the user_ip keys (a user, or an address
// key) to the other sides held in the table.
type pairIndex struct {
	shards [lockShards]pairShard
}

type pairShard struct {
	mu sync.Mutex
	m  map[string]map[string]struct{}
}

func (x *pairIndex) shard(t *LockTable, side string) *pairShard {
	return &x.shards[t.stringHash(side)%lockShards]
}

func (x *pairIndex) add(t *LockTable, side, other string) {
	s := x.shard(t, side)
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]map[string]struct{}{}
	}
	set := s.m[side]
	if set == nil {
		set = map[string]struct{}{}
		s.m[side] = set
	}
	set[other] = struct{}{}
	s.mu.Unlock()
}

func (x *pairIndex) remove(t *LockTable, side, other string) {
	s := x.shard(t, side)
	s.mu.Lock()
	if set := s.m[side]; set != nil {
		delete(set, other)
		if len(set) == 0 {
			delete(s.m, side)
		}
	}
	s.mu.Unlock()
}

// others returns the other sides paired with side.
func (x *pairIndex) others(t *LockTable, side string) []string {
	s := x.shard(t, side)
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.m[side]
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	return out
}

type lockShard struct {
	mu sync.Mutex
	m  map[uint64]*lockEntry
}

// NewLockTable returns an empty table.
func NewLockTable() *LockTable {
	t := &LockTable{seed: maphash.MakeSeed()}
	t.filter.Store(new(lockFilter))
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]*lockEntry)
	}
	return t
}

// stringHash hashes one key string; keyHash combines them.
func (t *LockTable) stringHash(s string) uint64 { return maphash.String(t.seed, s) }

// scopeSalt separates the scopes' hashes of one string.
func scopeSalt(scope schemas.LockScope) uint64 {
	switch scope {
	case schemas.ScopeUser:
		return 0x9e3779b97f4a7c15
	case schemas.ScopeIP:
		return 0xc2b2ae3d27d4eb4f
	case schemas.ScopeDevice:
		return 0x165667b19e3779f9
	case schemas.ScopeUserUntrusted:
		return 0x27d4eb2f165667c5
	case schemas.ScopeNetwork:
		return 0x94d049bb133111eb
	default:
		return 0xd6e8feb86659fd93
	}
}

// combineHash is the key hash of scope from the string hashes of the
// key's parts (hb only for user_ip). The mix spreads both inputs over
// every bit: the shard uses the low bits, the filter the high ones.
func combineHash(scope schemas.LockScope, ha, hb uint64) uint64 {
	h := ha ^ scopeSalt(scope)
	if scope == schemas.ScopeUserIP {
		h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9
		h ^= hb
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// keyHash is the hash of k.
func (t *LockTable) keyHash(k lockKey) uint64 {
	var hb uint64
	if k.scope == schemas.ScopeUserIP {
		hb = t.stringHash(k.b)
	}
	return combineHash(k.scope, t.stringHash(k.a), hb)
}

func (t *LockTable) shard(h uint64) *lockShard { return &t.shards[h%lockShards] }

// findLocked returns the entry of k (hash h) in s, whose lock the caller
// holds.
func (s *lockShard) findLocked(h uint64, k lockKey) *lockEntry {
	for e := s.m[h]; e != nil; e = e.next {
		if e.key == k {
			return e
		}
	}
	return nil
}

// entryLocked returns the entry of k, adding an empty one when missing.
func (t *LockTable) entryLocked(s *lockShard, h uint64, k lockKey) *lockEntry {
	if e := s.findLocked(h, k); e != nil {
		return e
	}
	// The filter bit goes up before the key is visible, so a reader that
	// finds the key can never have skipped it on a clear bit.
	t.filter.Load().add(h)
	e := &lockEntry{key: k, next: s.m[h]}
	s.m[h] = e
	t.keys.Add(1)
	if k.scope == schemas.ScopeUserIP {
		t.pairsByUser.add(t, k.a, k.b)
		t.pairsByIP.add(t, k.b, k.a)
	}
	return e
}

// active returns the lock on k at event time at, if any.
func (t *LockTable) active(k lockKey, at time.Time) (lockEntry, bool) {
	return t.activeHashed(t.keyHash(k), k, at)
}

// activeHashed is active for a key whose hash the caller computed.
func (t *LockTable) activeHashed(h uint64, k lockKey, at time.Time) (lockEntry, bool) {
	if !t.filter.Load().mayHave(h) {
		return lockEntry{}, false
	}
	s := t.shard(h)
	s.mu.Lock()
	e := s.findLocked(h, k)
	var out lockEntry
	if e != nil {
		// != rather than Equal: the time shown is this one, zone and all.
		if at.Before(e.until) && (e.shown.Until != e.until || e.shown.Rule != e.rule) {
			e.shown = k.lock(e.until, e.rule)
			e.shownDetail = lockedDetail(&e.shown)
		}
		out = *e
	}
	s.mu.Unlock()
	return out, e != nil && at.Before(out.until)
}

// set locks k from at for the duration the ladder gives for the prior
// offences on record (forgotten once the last one is resetAfter old); it
// never shortens an active lock. It returns the resulting expiry.
func (t *LockTable) set(k lockKey, at time.Time, rule string, resetAfter time.Duration, duration func(prior int) time.Duration) time.Time {
	h := t.keyHash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := t.entryLocked(s, h, k)
	if !e.lastOffence.IsZero() && at.Sub(e.lastOffence) >= resetAfter {
		e.offences = 0
	}
	d := duration(e.offences)
	until := at.Add(d)
	if until.After(e.until) {
		e.until, e.rule, e.setAt = until, rule, at
	}
	e.offences++
	e.lastOffence = at
	return e.until
}

// restore installs a lock set at setAt elsewhere: read back from history
// at start-up or when a partition moves here, or from another instance's
// decision. offence says that the decision set the lock (rather than
// reporting it active): a lock set after the key's last offence counts as
// one, with the reset of set, so that the next lock escalates as it
// would have on the instance that set it, and a lock met twice (on the
// decisions topic and in history) counts once. A key without an offence
// gets one. A lock set before an administrator lifted the key stays
// lifted.
func (t *LockTable) restore(k lockKey, setAt, until time.Time, rule string, offence bool, resetAfter time.Duration) {
	h := t.keyHash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := t.entryLocked(s, h, k)
	if !setAt.After(e.liftedAt) && !e.liftedAt.IsZero() {
		return
	}
	if offence && setAt.After(e.lastOffence) {
		if !e.lastOffence.IsZero() && setAt.Sub(e.lastOffence) >= resetAfter {
			e.offences = 0
		}
		e.offences++
		e.lastOffence = setAt
	}
	if until.After(e.until) {
		e.until, e.rule, e.setAt = until, rule, setAt
		if e.offences == 0 {
			e.offences, e.lastOffence = 1, setAt
		}
	}
}

// lift removes the lock on k active at at, if liftable says a lift at at
// reaches it; the offence history stays so the next lock still escalates.
// It reports whether it lifted one.
func (t *LockTable) lift(k lockKey, at time.Time, reach time.Duration) bool {
	h := t.keyHash(k)
	s := t.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.findLocked(h, k)
	if e == nil || !at.Before(e.until) || !liftable(e.setAt, at, reach) {
		return false
	}
	e.until = time.Time{}
	e.liftedAt = at
	return true
}

// liftable reports whether a lift at at reaches a lock set at setAt: one
// set no later than at + reach, where reach is how far ahead of the
// lift's clock a lock's event time can be (the engine's future skew;
// negative: no bound). So an older lift — read late from another
// partition, or replayed — never lifts a lock set after it.
func liftable(setAt, at time.Time, reach time.Duration) bool {
	return reach < 0 || !setAt.After(at.Add(reach))
}

// Sweep drops keys whose lock expired and whose offence history is older
// than keep, relative to the event time now, and rebuilds the presence
// filter from the keys that remain. It holds every shard while it runs, so
// no key is added behind the new filter's back.
func (t *LockTable) Sweep(now time.Time, keep time.Duration) (removed int) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	filter := new(lockFilter)
	for i := range t.shards {
		s := &t.shards[i]
		for h, first := range s.m {
			var kept *lockEntry
			for e := first; e != nil; {
				next := e.next
				if !now.Before(e.until) && now.Sub(e.lastOffence) > keep {
					removed++
					if e.key.scope == schemas.ScopeUserIP {
						t.pairsByUser.remove(t, e.key.a, e.key.b)
						t.pairsByIP.remove(t, e.key.b, e.key.a)
					}
				} else {
					e.next, kept = kept, e
				}
				e = next
			}
			if kept == nil {
				delete(s.m, h)
			} else {
				s.m[h] = kept
				filter.add(h)
			}
		}
	}
	t.filter.Store(filter)
	t.keys.Add(-int64(removed))
	for i := range t.shards {
		t.shards[i].mu.Unlock()
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
		for _, first := range s.m {
			for e := first; e != nil; e = e.next {
				if now.Before(e.until) && match(e.key) {
					out = append(out, e.key.lock(e.until, e.rule))
				}
			}
		}
		s.mu.Unlock()
	}
	sortLocks(out)
	return out
}

// sortLocks orders locks by scope and key. slices.SortFunc, unlike
// sort.Slice, does not box the slice: a status lookup, which finds none or
// one lock most of the time, allocates nothing to sort them.
func sortLocks(locks []schemas.Lock) {
	slices.SortFunc(locks, func(a, b schemas.Lock) int {
		if c := cmp.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
}

// activeForUser lists the locks active at now on user (a user key,
// schemas.UserKey): its user and user_untrusted locks (the latter refuses
// only its untrusted contexts) and its user_ip locks, ordered by scope and
// key. It looks up only that user's keys.
func (t *LockTable) activeForUser(user string, now time.Time) []schemas.Lock {
	own := []lockKey{{scope: schemas.ScopeUser, a: user}, {scope: schemas.ScopeUserUntrusted, a: user}}
	return t.activeForKeys(now, own, t.pairsByUser.others(t, user), func(ip string) lockKey {
		return lockKey{scope: schemas.ScopeUserIP, a: user, b: ip}
	})
}

// activeForIP lists the locks active at now on the address key ip: its ip
// lock, the network lock on its network (network, "" for none) and the
// user_ip locks that name it, ordered by scope and key.
func (t *LockTable) activeForIP(ip, network string, now time.Time) []schemas.Lock {
	keys := [2]lockKey{{scope: schemas.ScopeIP, a: ip}, {scope: schemas.ScopeNetwork, a: network}} // on the stack
	own := keys[:1]
	if network != "" {
		own = keys[:2]
	}
	return t.activeForKeys(now, own, t.pairsByIP.others(t, ip), func(user string) lockKey {
		return lockKey{scope: schemas.ScopeUserIP, a: user, b: ip}
	})
}

func (t *LockTable) activeForKeys(now time.Time, own []lockKey, others []string, pair func(string) lockKey) []schemas.Lock {
	out := []schemas.Lock{}
	add := func(k lockKey) {
		if e, ok := t.active(k, now); ok {
			out = append(out, e.shown) // as activeHashed made it for the lock now
		}
	}
	for _, k := range own {
		add(k)
	}
	for _, o := range others {
		add(pair(o))
	}
	sortLocks(out)
	return out
}

// Len returns the number of keys held (active locks and offence records).
func (t *LockTable) Len() int { return int(t.keys.Load()) }
