package engine

import (
	"hash/maphash"
	"sync"

	"github.com/loginrisk/loginrisk/schemas"
)

const recentShards = 256

// recentDecisions remembers the outcome of the last events by a key. Keyed
// by event_id it is the dedupe that makes a redelivered or re-posted event
// count once and get the same decision, and it answers
// GET /v1/decisions/{event_id}; keyed by user or IP key it remembers the
// last decision about each.
//
// Each shard indexes its entries by a 64-bit hash of the key (an integer
// map key: no string hashing or comparison on the probe) and keeps the
// entries in a FIFO ring that bounds memory and drives eviction. Every hit
// is verified against the full key kept in the entry, so a hash collision
// can only make a key look absent (as if evicted early), never make one
// key answer for another: a false duplicate would drop an attempt.
//
// An entry holds the key, the decision and, only where the engine keeps
// them (history configured, so that a duplicate can be recorded again in
// full), the event and its features: about 60 bytes per entry plus the
// decision, which the three tables share.
type recentDecisions struct {
	seed   maphash.Seed
	shards [recentShards]recentShard
}

type recentShard struct {
	mu    sync.Mutex
	index map[uint64]uint32 // key hash → position in ring
	ring  []recentEntry     // insertion order; a zero hash is a free slot
	next  uint32
}

// recentEntry is one remembered outcome. Event and Features are nil unless
// the engine keeps them.
type recentEntry struct {
	hash    uint64
	key     string
	outcome schemas.ScoredEvent
}

func newRecentDecisions(capacity int) *recentDecisions {
	per := max(capacity/recentShards, 16)
	r := &recentDecisions{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].index = make(map[uint64]uint32, per)
		r.shards[i].ring = make([]recentEntry, per)
	}
	return r
}

// hash returns the table's hash of key; never 0, which marks a free slot.
func (r *recentDecisions) hash(key string) uint64 {
	return maphash.String(r.seed, key) | 1
}

// shard returns the shard of a key hash (the top bits pick the shard; the
// map hashes the whole value again).
func (r *recentDecisions) shard(h uint64) *recentShard {
	return &r.shards[h>>56%recentShards]
}

// getLocked returns the outcome remembered under key (hash h); the caller
// holds s.mu.
func (s *recentShard) getLocked(h uint64, key string) (schemas.ScoredEvent, bool) {
	pos, ok := s.index[h]
	if !ok {
		return schemas.ScoredEvent{}, false
	}
	e := &s.ring[pos]
	if e.key != key {
		return schemas.ScoredEvent{}, false // another key with the same hash
	}
	return e.outcome, true
}

// get returns the outcome remembered under key.
func (r *recentDecisions) get(key string) (schemas.ScoredEvent, bool) {
	h := r.hash(key)
	s := r.shard(h)
	s.mu.Lock()
	out, ok := s.getLocked(h, key)
	s.mu.Unlock()
	return out, ok
}

// putLocked stores an outcome under key (hash h) in s, whose lock the
// caller holds. A key already present keeps its place in the ring; a new
// key takes the oldest slot, evicting its entry. A different key with the
// same hash is replaced (it is forgotten early, as if evicted).
func (s *recentShard) putLocked(h uint64, key string, outcome schemas.ScoredEvent) {
	if pos, ok := s.index[h]; ok {
		e := &s.ring[pos]
		if e.key == key {
			e.outcome = outcome
			return
		}
		// The colliding entry stays in its slot unindexed until the ring
		// reaches it; forget its references now.
		*e = recentEntry{}
	}
	pos := s.next
	old := &s.ring[pos]
	if old.hash != 0 {
		if p, ok := s.index[old.hash]; ok && p == pos {
			delete(s.index, old.hash)
		}
	}
	*old = recentEntry{hash: h, key: key, outcome: outcome}
	s.index[h] = pos
	if s.next++; int(s.next) == len(s.ring) {
		s.next = 0
	}
}

// put stores an outcome under key.
func (r *recentDecisions) put(key string, outcome schemas.ScoredEvent) {
	h := r.hash(key)
	s := r.shard(h)
	s.mu.Lock()
	s.putLocked(h, key, outcome)
	s.mu.Unlock()
}
