package engine

import (
	"hash/maphash"
	"sync"

	"github.com/loginrisk/loginrisk/schemas"
)

const recentShards = 256

// recentDecisions remembers the outcomes (event, features, decision) of the
// last events by a key. Keyed by event_id it is the dedupe that makes a
// redelivered or re-posted event count once and get the same decision, and
// it answers GET /v1/decisions/{event_id}; keyed by user or address it
// remembers the last decision about each.
// // Each shard is a FIFO ring, so memory is bounded by the capacity (about
// 1.5 KiB per entry).
type recentDecisions struct {
	seed   maphash.Seed
	shards [recentShards]recentShard
}

type recentShard struct {
	mu   sync.Mutex
	m    map[string]schemas.ScoredEvent
	ring []string // event ids in insertion order
	next int
}

func newRecentDecisions(capacity int) *recentDecisions {
	per := max(capacity/recentShards, 16)
	r := &recentDecisions{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[string]schemas.ScoredEvent, per)
		r.shards[i].ring = make([]string, per)
	}
	return r
}

func (r *recentDecisions) shard(id string) *recentShard {
	return &r.shards[maphash.String(r.seed, id)%recentShards]
}

// get returns the outcome remembered under id.
func (r *recentDecisions) get(id string) (schemas.ScoredEvent, bool) {
	s := r.shard(id)
	s.mu.Lock()
	d, ok := s.m[id]
	s.mu.Unlock()
	return d, ok
}

// putLocked stores se under id in s, whose lock the caller holds,
// evicting the oldest entry when the ring is full.
func (s *recentShard) putLocked(id string, se schemas.ScoredEvent) {
	if _, ok := s.m[id]; ok {
		s.m[id] = se
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.m, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.m[id] = se
}

// put stores se under id.
func (r *recentDecisions) put(id string, se schemas.ScoredEvent) {
	s := r.shard(id)
	s.mu.Lock()
	s.putLocked(id, se)
	s.mu.Unlock()
}
