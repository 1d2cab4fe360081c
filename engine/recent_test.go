package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

// checkRecentShard verifies the index of a shard against its ring: every
// live entry is found by its own hash, every index word names a live
// entry, and the words are as many as the live entries.
func checkRecentShard(t *testing.T, s *recentShard) {
	t.Helper()
	live := 0
	for pos, e := range s.ring {
		if e.hash == 0 {
			continue
		}
		live++
		out, _, ok := s.lookupLocked(e.hash, e.key)
		if !ok || out.outcome.Decision != e.outcome.Decision {
			t.Fatalf("ring entry %d (%s) is not found through the index", pos, e.key)
		}
	}
	words := 0
	for _, w := range s.index {
		if w == 0 {
			continue
		}
		words++
		if e := s.ring[w&recentPosMask-1]; e.hash&^recentPosMask != w&^recentPosMask {
			t.Fatalf("index word %x names ring entry %q with hash %x", w, e.key, e.hash)
		}
	}
	if words != live {
		t.Fatalf("%d index words for %d live entries", words, live)
	}
}

// TestRecentShardIndex drives one shard with hashes from a tiny space, so
// that probe runs overlap, wrap around and tags collide, and checks after
// every step that the index matches the ring and that a key is only ever
// found with its own decision.
func TestRecentShardIndex(t *testing.T) {
	r := newRecentDecisions(16 * recentShards) // 16 entries, 32 slots per shard
	s := &r.shards[0]
	rng := rand.New(rand.NewPCG(1, 2))
	hashOf := map[string]uint64{}
	stored := map[string]*schemas.Decision{}
	for step := range 20_000 {
		key := fmt.Sprintf("k%d", rng.IntN(200))
		h, ok := hashOf[key]
		if !ok {
			// 8 homes, 3 tags per home: heavy clustering and collisions.
			h = uint64(rng.IntN(8))<<recentPosBits | uint64(rng.IntN(3))<<40 | 1
			hashOf[key] = h
		}
		out, slot, found := s.lookupLocked(h, key)
		if found && out.outcome.Decision != stored[key] {
			t.Fatalf("step %d: %s found with another key's decision", step, key)
		}
		if rng.IntN(4) == 0 {
			continue // a lookup alone (a duplicate check, a dry run)
		}
		// Score inserts only keys it did not find; warm-up's put also
		// replaces a key it found.
		d := &schemas.Decision{EventID: key}
		s.insertLocked(slot, h, key, attempt{}, schemas.ScoredEvent{Decision: d})
		stored[key] = d
		checkRecentShard(t, s)
		// The newest entry is always found.
		if out, _, ok := s.lookupLocked(h, key); !ok || out.outcome.Decision != d {
			t.Fatalf("step %d: the entry just stored for %s is not found", step, key)
		}
	}
}
