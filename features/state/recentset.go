package state

// recentSet is a bounded set of 32-bit keys (hashes of users or of
// sources) with the time each was last seen, for distinct counts over
// windows. It is kept sorted by that time, oldest first, so a window's
// count is a binary search, expired keys are a prefix, and the least
// recently seen key, which makes room when the set is full, is the
// first.
//
// Invariants (TestRecentSetAgainstReference, TestRecentSetFindsEveryKey):
// keys are distinct and sorted by last, at most maxKeys of them.
//
// (Until 2026-12-04 a set kept its first two keys inline, a full set a
// filter of its keys in its storage's spare capacity, and count and add
// had short paths for the newest key and for a key going last. None
// paid at the 100 k-user scale: docs/features-performance.md, "Fast
// paths".)
type recentSet struct {
	keys seenKeys
}

// firstKeys is the size of a set's first storage: most users come from
// one or two addresses, most devices serve one user.
const firstKeys = 2

// seenKeys are a set's keys, in last-seen order.
type seenKeys []seenKey

type seenKey struct {
	key  uint32
	last uint32
}

// find returns the index of key, or -1. It looks at the newest first (a
// returning key is near the end), four keys a step.
func (s seenKeys) find(key uint32) int {
	i := len(s)
	for ; i >= 4; i -= 4 {
		q := s[i-4 : i]
		switch key {
		case q[3].key:
			return i - 1
		case q[2].key:
			return i - 2
		case q[1].key:
			return i - 3
		case q[0].key:
			return i - 4
		}
	}
	for i--; i >= 0; i-- {
		if s[i].key == key {
			return i
		}
	}
	return -1
}

// seenAfter returns the index of the first key last seen after from (the
// set is sorted by that time): 0 at once when the oldest key is, as with
// nothing to expire or a span wider than the set.
func (s seenKeys) seenAfter(from int64) int {
	if len(s) == 0 || int64(s[0].last) > from {
		return 0
	}
	lo, hi := 1, len(s)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int64(s[mid].last) > from {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// count returns, for each span, the number of distinct keys seen in
// (t-span, t], counting current whether or not it is in the set; a zero
// span counts nothing. It also returns the index of current in the set
// (-1 for none), for addAt.
func (rs *recentSet) count(t uint32, spans [2]uint32, current uint32) (n [2]int, at int) {
	s := rs.keys
	hi := len(s)
	if hi > 0 && s[hi-1].last > t { // a late read: keys seen after t do not count
		hi = s.seenAfter(int64(t))
	}
	found := rs.find(current)
	at = found
	if at >= hi {
		at = -1 // seen after t only
	}
	for i, span := range spans {
		if span == 0 {
			continue
		}
		lo := s[:hi].seenAfter(int64(t) - int64(span))
		n[i] = hi - lo + 1
		if at >= lo {
			n[i]-- // current, counted once
		}
	}
	return n, found
}

// add records key as seen at at: it drops the keys last seen horizon or
// more before at, and moves key to its place in time order; a new key
// takes the place of the least recently seen one when the set is full
// (unless that one was seen after at).
func (s *recentSet) add(key, at, horizon uint32, maxKeys int) {
	s.addAt(s.find(key), key, at, horizon, maxKeys)
}

// find returns the index of key, or -1.
func (s *recentSet) find(key uint32) int { return s.keys.find(key) }

// addAt is add for a key at index i of the set (-1 for none), as count
// or find returned it.
func (s *recentSet) addAt(i int, key, at, horizon uint32, maxKeys int) {
	set := s.keys
	if expired := set.seenAfter(int64(at) - int64(horizon)); expired > 0 {
		set = set[:copy(set, set[expired:])]
		i -= expired // below 0: the key expired too
	}
	switch {
	case i >= 0:
		if set[i].last >= at {
			s.keys = set
			return
		}
		set = append(set[:i], set[i+1:]...)
	case len(set) >= maxKeys:
		if set[0].last >= at {
			s.keys = set
			return
		}
		set = set[:copy(set, set[1:])]
	}
	if len(set) == cap(set) {
		set = s.grow(set, maxKeys)
	}
	i = len(set)
	for i > 0 && set[i-1].last > at {
		i--
	}
	set = append(set, seenKey{})
	copy(set[i+1:], set[i:])
	set[i] = seenKey{key: key, last: at}
	s.keys = set
}

// grow returns set with room for one more key: storage of firstKeys
// keys first, then of 8, doubling up to maxKeys.
func (s *recentSet) grow(set seenKeys, maxKeys int) seenKeys {
	if set == nil {
		return make(seenKeys, 0, min(firstKeys, maxKeys))
	}
	size := min(max(8, 2*cap(set)), max(maxKeys, len(set)+1))
	grown := make(seenKeys, len(set), size)
	copy(grown, set)
	return grown
}

// compact drops keys last seen horizon or more before now and frees the
// storage of an empty set.
func (s *recentSet) compact(now, horizon uint32) bool {
	set := s.keys
	if expired := set.seenAfter(int64(now) - int64(horizon)); expired > 0 {
		set = set[:copy(set, set[expired:])]
	}
	if len(set) == 0 {
		set = nil
	}
	s.keys = set
	return set == nil
}

// distinct returns the number of keys seen in (t-span, t].
func (s *recentSet) distinct(t, span uint32) int {
	return s.keys.seenAfter(int64(t)) - s.keys.seenAfter(int64(t)-int64(span))
}
