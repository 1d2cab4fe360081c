package state

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// table is a hash table split into shards, each with its own lock, for
// one kind of key. Keys come with a 64-bit hash that the store computes
// with its per-process random seed (placeString, placeIP): the shard is
// chosen by its low bits, and a shard is an open-addressing table of
// slots holding the hash, the key and the value, probed linearly from
// bits 24 up of the hash, so a lookup compares hashes in one array and
// the key once.
//
// Invariants:
//   - Placement depends on the seed: without it, nobody can choose keys
//     that share a shard or a probe, so probes stay short (on average
//     under 5 slots at the 7/8 load a shard grows at).
//   - No call holds a shard's lock for work that grows with the shard.
//     A shard that fills up (or empties) is moved to a new slot array
//     sized for its keys incrementally: each put moves the next
//     moveStep slots of the old array, and until the move is done a
//     lookup that misses in the new array looks in the old one. A sweep
//     visits at most sweepStep slots per hold of the lock, an eviction
//     at most evictProbe.
//   - A deleted key leaves a tombstone (a probe goes on past it), which a
//     later put may reuse; a move leaves them behind.
//   - The table holds at most limit keys (its cap): a new key first
//     reserves its place in held (makeRoom); at the limit it takes the
//     place of a key of its shard that may go, or is refused.
type table[K comparable, V any] struct {
	shards []tableShard[K, V]
	mask   uint64
	limit  int64 // keys the table may hold
	// held counts the keys of all shards (and places reserved for keys
	// being put), evicted those deleted to make room at the limit,
	// refused the keys not admitted: read without the shards' locks.
	held, evicted, refused atomic.Int64
}

type tableShard[K comparable, V any] struct {
	mu sync.Mutex
	// slots is the slot array, a power of two long (or none); old, when
	// not nil, the array being moved into slots, of which old[:moved]
	// are moved (left as tombstones).
	slots []tableSlot[K, V]
	old   []tableSlot[K, V]
	moved int
	live  int      // values held, in slots and old
	used  int      // slots of slots that are not empty: values and tombstones
	hand  int      // the slot of slots where the next eviction looks first
	_     [40]byte // 128 bytes: neighbouring shards' locks on other cache lines
}

// tableSlot is one slot of a shard: empty when it is the zero slot, a
// tombstone when v is nil and hash is tombstoneHash. A key's hash has
// placedBit set, so it is neither.
type tableSlot[K comparable, V any] struct {
	hash uint64
	key  K
	v    *V
}

const (
	// minTableSlots is the smallest slot array; a shard grows before
	// more than 7/8 of its slots are used, and shrinks after a sweep
	// leaves fewer than 1/8 of them holding values.
	minTableSlots = 8
	// moveStep is the number of slots of the old array each put moves.
	moveStep = 32
	// sweepStep is the number of slots a sweep visits per hold of a
	// shard's lock.
	sweepStep = 256
	// evictSample values after the shard's hand are compared by an
	// eviction, which looks at evictProbe slots at most.
	evictSample = 16
	evictProbe  = 64
	// tombstoneHash marks a tombstone; placedBit is set in every key's
	// hash (above the bits that choose a shard and a slot), so that an
	// empty slot (hash 0) and a tombstone never match a key.
	tombstoneHash = 1
	placedBit     = 1 << 63
)

// newTable returns a table of shards shards (a power of two) holding at
// most maxKeys keys.
func newTable[K comparable, V any](shards, maxKeys int) *table[K, V] {
	return &table[K, V]{
		shards: make([]tableShard[K, V], shards),
		mask:   uint64(shards - 1),
		limit:  int64(maxKeys),
	}
}

func (t *table[K, V]) shard(hash uint64) *tableShard[K, V] { return &t.shards[hash&t.mask] }

// slotOf is where the probe for hash starts: bits above those that chose
// the shard.
func slotOf(hash uint64, mask int) int { return int(hash>>24) & mask }

// get returns the value of key (whose hash is hash), or nil: it looks in
// slots, then, while the shard moves, in old. (One loop over both with
// no call, so that it is inlined: the call was a third of a lookup.)
// Every slot array has empty slots (at most 7/8 are used), which end a
// probe; a tombstone's hash, without placedBit, matches no key's.
func (sh *tableShard[K, V]) get(hash uint64, key K) *V {
	for slots, old := sh.slots, sh.old; slots != nil; slots, old = old, nil {
		mask := len(slots) - 1
		for i := slotOf(hash, mask); slots[i].hash != 0; i = (i + 1) & mask {
			if s := &slots[i]; s.hash == hash && s.key == key {
				return s.v
			}
		}
	}
	return nil
}

// put adds key, which the shard does not hold (get returned nil), with
// its value, in the place makeRoom made for it.
func (sh *tableShard[K, V]) put(hash uint64, key K, v *V) {
	sh.step(moveStep)
	if (sh.used+1)*8 > len(sh.slots)*7 {
		sh.startMove()
	}
	sh.place(tableSlot[K, V]{hash: hash, key: key, v: v})
	sh.live++
}

// place puts s in the first tombstone or empty slot of its probe in
// slots.
func (sh *tableShard[K, V]) place(s tableSlot[K, V]) {
	mask := len(sh.slots) - 1
	i := slotOf(s.hash, mask)
	for sh.slots[i].v != nil {
		i = (i + 1) & mask
	}
	if sh.slots[i].hash == 0 {
		sh.used++
	}
	sh.slots[i] = s
}

// startMove starts moving the shard to a new slot array sized for its
// values, with room for those that puts add until the move is done (one
// for every moveStep slots of the array it leaves): twice the slots
// when the shard is full, fewer after a sweep emptied it. A move still
// in progress (which its sizing makes impossible) is finished first.
func (sh *tableShard[K, V]) startMove() {
	if sh.old != nil {
		sh.step(len(sh.old))
	}
	need := sh.live + 1 + len(sh.slots)/moveStep
	size := max(minTableSlots, 1<<bits.Len(uint(need*8/7)))
	sh.old, sh.moved = sh.slots, 0
	sh.slots, sh.used, sh.hand = make([]tableSlot[K, V], size), 0, 0
	if sh.live == 0 {
		sh.old = nil // nothing to move
	}
}

// step moves up to n slots of the old array, if any, into slots.
func (sh *tableShard[K, V]) step(n int) {
	if sh.old == nil {
		return
	}
	end := min(sh.moved+n, len(sh.old))
	for i := sh.moved; i < end; i++ {
		s := &sh.old[i]
		if s.v != nil {
			sh.place(*s)
		}
		if s.v != nil || s.hash != 0 {
			// A tombstone, so that probes through it into the part
			// not moved yet go on.
			*s = tableSlot[K, V]{hash: tombstoneHash}
		}
	}
	sh.moved = end
	if end == len(sh.old) {
		sh.old, sh.moved = nil, 0
	}
}

// remove makes the slot s of sh, holding a value, a tombstone.
func (t *table[K, V]) remove(sh *tableShard[K, V], s *tableSlot[K, V]) {
	*s = tableSlot[K, V]{hash: tombstoneHash}
	sh.live--
	t.held.Add(-1)
}

// makeRoom makes room for one more key in sh, the shard of a key it does
// not hold, and reserves it, before a put. When the table is at its
// limit it deletes the least recently seen of evictSample values after
// the shard's hand among those evictable reports may go (and when each
// was last seen), whose place the new key takes, and returns it (nil
// when there was room). When none of those may go it looks on, up to
// evictProbe slots, for one that may. It reports false, changing nothing
// but the refusal count, when it found none: the hand has moved on, so
// the next new key looks at other keys.
func (t *table[K, V]) makeRoom(sh *tableShard[K, V], evictable func(*V) (lastSeen uint32, ok bool)) (evicted *V, ok bool) {
	for n := t.held.Load(); n < t.limit; n = t.held.Load() {
		if t.held.CompareAndSwap(n, n+1) {
			return nil, true
		}
	}
	sh.step(moveStep) // so that most values are in slots
	var (
		oldest     *tableSlot[K, V]
		oldestSeen uint32
		sampled    int
	)
	consider := func(slots []tableSlot[K, V], from, probe int) (next int) {
		i := from
		for range min(probe, len(slots)) {
			if i >= len(slots) {
				i = 0
			}
			s := &slots[i]
			i++
			if s.v == nil {
				continue
			}
			if seen, ok := evictable(s.v); ok && (oldest == nil || seen < oldestSeen) {
				oldest, oldestSeen = s, seen
			}
			if sampled++; sampled >= evictSample && oldest != nil {
				break
			}
		}
		return i
	}
	if len(sh.slots) > 0 {
		sh.hand = consider(sh.slots, sh.hand, evictProbe)
	}
	if (sampled < evictSample || oldest == nil) && sh.old != nil {
		consider(sh.old[sh.moved:], 0, evictProbe)
	}
	if oldest == nil {
		t.refused.Add(1)
		return nil, false
	}
	evicted = oldest.v
	*oldest = tableSlot[K, V]{hash: tombstoneHash} // held stays: the new key takes its place
	sh.live--
	t.evicted.Add(1)
	return evicted, true
}

// sweep deletes the values drop reports idle, shard by shard, visiting
// at most sweepStep slots per hold of a shard's lock; a shard left
// mostly empty is moved to a smaller array, a step at a time too. A
// value that a move (started by a put between two holds) carries past
// the sweep's position is visited by the next sweep.
func (t *table[K, V]) sweep(drop func(*V) bool) (removed int) {
	for i := range t.shards {
		removed += t.sweepShard(&t.shards[i], drop)
	}
	return removed
}

func (t *table[K, V]) sweepShard(sh *tableShard[K, V], drop func(*V) bool) (removed int) {
	for pos, done := 0, false; !done; {
		sh.mu.Lock()
		switch {
		case sh.old != nil:
			sh.step(sweepStep) // finish a move first: the values are in slots after it
		case pos < len(sh.slots):
			end := min(pos+sweepStep, len(sh.slots))
			for j := pos; j < end; j++ {
				if s := &sh.slots[j]; s.v != nil && drop(s.v) {
					t.remove(sh, s)
					removed++
				}
			}
			pos = end
		default:
			if len(sh.slots) > minTableSlots && sh.live*8 < len(sh.slots) || sh.live == 0 && sh.slots != nil {
				sh.startMove()
				if sh.live == 0 {
					sh.slots, sh.used = nil, 0
				}
			}
			done = sh.old == nil
		}
		sh.mu.Unlock()
	}
	return removed
}

// len returns the number of keys held.
func (t *table[K, V]) len() int { return int(t.held.Load()) }
