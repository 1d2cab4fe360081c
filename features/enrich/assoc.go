package enrich

import "sync"

// assocCache is a set-associative cache of values by a 64-bit key hash,
// for the caches whose misses are cheap to answer (the address cache,
// answered from the network cache; the network names, formatted again),
// where ristretto's admission costs more than the misses it saves
// (docs/features-performance.md, "The core toward its floor"). A key's
// set is chosen by its hash; each set holds assocWays entries under a
// lock of its own and replaces by CLOCK (a hit sets the entry's bit; a
// new entry takes the first entry without it, clearing bits on the way).
// Values carry what identifies them, checked by the caller on a hit, so
// a hash collision is a miss. It allocates only when it is made.
type assocCache[V any] struct {
	sets []assocSet[V]
	mask uint64
}

// assocWays is the number of entries of a set.
const assocWays = 4

type assocSet[V any] struct {
	mu   sync.Mutex
	hand uint8
	used [assocWays]bool // CLOCK's reference bits
	keys [assocWays]uint64
	vals [assocWays]V
}

// newAssocCache returns a cache of at least entries entries.
func newAssocCache[V any](entries int) *assocCache[V] {
	sets := 1
	for sets*assocWays < entries {
		sets <<= 1
	}
	return &assocCache[V]{sets: make([]assocSet[V], sets), mask: uint64(sets - 1)}
}

// set returns key's set: chosen by the high bits of the hash, which the
// caches' keys mix well (keyhash).
func (c *assocCache[V]) set(key uint64) *assocSet[V] { return &c.sets[(key>>32)&c.mask] }

// Get returns the value cached for key. Key 0 is never cached.
func (c *assocCache[V]) Get(key uint64) (v V, ok bool) {
	s := c.set(key)
	s.mu.Lock()
	for i := range s.keys {
		if s.keys[i] == key && key != 0 {
			v, ok = s.vals[i], true
			s.used[i] = true
			break
		}
	}
	s.mu.Unlock()
	return v, ok
}

// Set caches v for key, in the place of key's entry if it has one, else
// of the entry CLOCK picks.
func (c *assocCache[V]) Set(key uint64, v V) {
	if key == 0 {
		return
	}
	s := c.set(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i] == key {
			s.vals[i] = v
			return
		}
	}
	for s.used[s.hand] {
		s.used[s.hand] = false
		s.hand = (s.hand + 1) % assocWays
	}
	s.keys[s.hand], s.vals[s.hand] = key, v
	s.hand = (s.hand + 1) % assocWays
}
