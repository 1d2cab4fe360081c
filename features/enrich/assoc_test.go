package enrich

import (
	"sync"
	"testing"
)

// TestAssocCacheClock: a set keeps assocWays entries; a new key takes the
// place of one not read since the hand last passed, so an entry read
// between insertions outlives those that were not.
func TestAssocCacheClock(t *testing.T) {
	c := newAssocCache[int](assocWays) // one set
	if len(c.sets) != 1 {
		t.Fatalf("%d sets for %d entries, want 1", len(c.sets), assocWays)
	}
	key := func(i int) uint64 { return uint64(i+1) << 40 }
	for i := range assocWays {
		c.Set(key(i), i)
	}
	for i := range assocWays {
		if v, ok := c.Get(key(i)); !ok || v != i {
			t.Fatalf("entry %d: %d %v, want it cached", i, v, ok)
		}
	}
	// Every entry was read: the hand clears them all and replaces entry 0;
	// entry 1 is read again, so the next new key passes it and takes 2.
	c.Set(key(10), 10)
	c.Get(key(1))
	c.Set(key(11), 11)
	for i, want := range map[int]bool{0: false, 1: true, 2: false, 3: true, 10: true, 11: true} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Errorf("entry %d cached %v, want %v", i, ok, want)
		}
	}
	c.Set(0, 99)
	if _, ok := c.Get(0); ok {
		t.Error("key 0 is cached")
	}
}

// TestAssocCacheConcurrent: readers and writers of the same sets at once
// (for the race detector), and a value read is one that was set for its key.
func TestAssocCacheConcurrent(t *testing.T) {
	c := newAssocCache[[2]uint64](64)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20_000 {
				k := uint64(i%200+1)<<32 | uint64(w)
				if v, ok := c.Get(k); ok && v != [2]uint64{k, k * 3} {
					t.Errorf("key %#x read %v", k, v)
					return
				}
				c.Set(k, [2]uint64{k, k * 3})
			}
		})
	}
	wg.Wait()
}
