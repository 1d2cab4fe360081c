package state

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
)

// The familiarity model's population counts (familiarity.go), shared by
// every partition's goroutine and updated without a lock: counters are
// atomic, and a read sees each counter as some moment left it (a read
// racing with a learn may see the total before the count, or after: a
// difference of one login in millions).
//
//   - exactCounts counts the values of an attribute with a small value
//     space exactly: an open-addressing table of exactSlots values whose
//     slots, once taken, are never given up, so a value has one slot for
//     good; a value that finds no free slot within exactProbe slots (a
//     value space much larger than the attribute's) is counted in a
//     sketch instead, as the large attributes are.
//   - countSketch is a count-min sketch (Cormode and Muthukrishnan) laid
//     out in blocks: a value's sketchDepth counters lie in one block of
//     16, two cache lines, chosen by the value's hash, so a count is one
//     or two cache misses where a sketch of independent rows takes
//     sketchDepth. Like any count-min sketch it never counts low; it
//     counts high when other values share the block and all of the
//     value's counters, by about the block's share of the total
//     (1/sketchBlocks: 0.012 %) at most with high probability.

const (
	// exactSlots is the size of an exact attribute's table, exactProbe
	// the slots a value looks at for its own before the sketch counts it.
	exactSlots = 1024
	exactProbe = 64
	// sketchBlocks is the number of blocks of a countSketch (1 MiB),
	// sketchDepth the counters of a block a value adds to.
	sketchBlocks = 8192
	sketchDepth  = 7
)

// exactCounts counts the values of one attribute; see above.
type exactCounts struct {
	slots [exactSlots]exactSlot
	seed  uint64
	// overflow counts the values beyond the table, nil until the first.
	overflow atomic.Pointer[countSketch]
}

// exactSlot is one value and its count; key is the value's hash with bit
// 32 set, 0 while the slot is free.
type exactSlot struct {
	key atomic.Uint64
	n   atomic.Uint64
}

func newExactCounts(seed uint64) *exactCounts { return &exactCounts{seed: seed} }

// add counts value hash n times.
func (c *exactCounts) add(hash uint32, n uint64) {
	key := uint64(hash) | 1<<32
	i := int(keyhash.Mix64(uint64(hash)))
	for range exactProbe {
		s := &c.slots[i&(exactSlots-1)]
		k := s.key.Load()
		if k == 0 && s.key.CompareAndSwap(0, key) {
			k = key
		} else if k == 0 {
			k = s.key.Load() // another value took it first
		}
		if k == key {
			s.n.Add(n)
			return
		}
		i++
	}
	sk := c.overflow.Load()
	if sk == nil {
		c.overflow.CompareAndSwap(nil, newCountSketch(c.seed))
		sk = c.overflow.Load()
	}
	sk.add(hash, n)
}

// count returns the count of value hash.
func (c *exactCounts) count(hash uint32) uint64 {
	key := uint64(hash) | 1<<32
	i := int(keyhash.Mix64(uint64(hash)))
	for range exactProbe {
		s := &c.slots[i&(exactSlots-1)]
		switch s.key.Load() {
		case key:
			return s.n.Load()
		case 0:
			return 0 // a value takes the first free slot of its probe
		}
		i++
	}
	if sk := c.overflow.Load(); sk != nil {
		return sk.count(hash)
	}
	return 0
}

// countSketch is a blocked count-min sketch; see above.
type countSketch struct {
	seed   uint64 // per process, so that nobody can choose values that share a block
	blocks []sketchBlock
}

// sketchBlock is the counters of a block: 128 bytes.
type sketchBlock [16]atomic.Uint64

func newCountSketch(seed uint64) *countSketch {
	return &countSketch{seed: seed, blocks: make([]sketchBlock, sketchBlocks)}
}

// locate returns the block of value hash and the positions of its
// counters there, 4 bits each: the low 13 bits of the mixed hash choose
// the block, the bits above them the seven positions.
func (s *countSketch) locate(hash uint32) (*sketchBlock, uint64) {
	h := keyhash.Mix64(uint64(hash) ^ s.seed)
	return &s.blocks[h&(sketchBlocks-1)], h >> bits.Len(sketchBlocks-1)
}

// add counts value hash n times.
func (s *countSketch) add(hash uint32, n uint64) {
	b, at := s.locate(hash)
	for range sketchDepth {
		b[at&15].Add(n)
		at >>= 4
	}
}

// count returns the least of the counters of value hash: its count, or
// more when other values share them all.
func (s *countSketch) count(hash uint32) uint64 {
	b, at := s.locate(hash)
	least := uint64(math.MaxUint64)
	for range sketchDepth {
		least = min(least, b[at&15].Load())
		at >>= 4
	}
	return least
}

// newPopulationSeed is the seed of a population's sketches.
func newPopulationSeed() uint64 { return rand.Uint64() }
