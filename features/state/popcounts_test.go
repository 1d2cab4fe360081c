package state

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestExactCountsAgainstMap: four goroutines add to one attribute's exact
// counts at once, with no lock; every value's count equals a map's, the
// first exactSlots-odd values exactly in the table and the rest (a value
// space larger than the table) never below their count in the sketch.
func TestExactCountsAgainstMap(t *testing.T) {
	const values, workers, adds = 3000, 4, 20_000
	c := newExactCounts(42)
	want := make([]map[uint32]uint64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		want[w] = map[uint32]uint64{}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range adds {
				v := uint32(r.IntN(values)) * 2654435761
				if w%2 == 0 { // some values for everyone, others split
					v = uint32(r.IntN(values/10)) * 2654435761
				}
				c.add(v, 1)
				want[w][v]++
			}
		})
	}
	wg.Wait()
	total := map[uint32]uint64{}
	for _, m := range want {
		for v, n := range m {
			total[v] += n
		}
	}
	inTable, over := 0, uint64(0)
	for v, n := range total {
		got := c.count(v)
		if got < n {
			t.Fatalf("value %#x counted %d, want at least %d", v, got, n)
		}
		if found := c.slotOf(v); found {
			inTable++
			if got != n {
				t.Errorf("value %#x in the table counted %d, want exactly %d", v, got, n)
			}
		}
		over += got - n
	}
	if inTable < exactSlots*7/8 {
		t.Errorf("%d values in the table of %d slots, want it mostly used", inTable, exactSlots)
	}
	if n := c.count(12345); n > workers*adds/100 {
		t.Errorf("a value never added counts %d", n)
	}
	t.Logf("%d of %d values in the table; %d counted too many in all", inTable, len(total), over)
}

// slotOf reports whether value hash has a slot of its own.
func (c *exactCounts) slotOf(hash uint32) bool {
	key := uint64(hash) | 1<<32
	for i := range c.slots {
		if c.slots[i].key.Load() == key {
			return true
		}
	}
	return false
}

// TestCountSketchBound: the blocked count-min sketch never counts a value
// low, and counts it high by under 0.05 % of the total for all but a few
// in a thousand values, as the population's count-min sketch promised
// (docs/features.md, "Familiarity").
func TestCountSketchBound(t *testing.T) {
	const values = 200_000
	s := newCountSketch(7)
	r := rand.New(rand.NewPCG(3, 4))
	want := make(map[uint32]uint64, values)
	var total uint64
	for i := range values {
		v := r.Uint32()
		n := uint64(1 + values/(i+1)/50) // a long tail and a few large values
		s.add(v, n)
		want[v] += n
		total += n
	}
	bad := 0
	for v, n := range want {
		got := s.count(v)
		if got < n {
			t.Fatalf("value %#x counted %d, want at least %d", v, got, n)
		}
		if float64(got-n) > 0.0005*float64(total) {
			bad++
		}
	}
	if bad*1000 > len(want)*3 {
		t.Errorf("%d of %d values counted over 0.05 %% of the total (%d) too high", bad, len(want), total)
	}
}
