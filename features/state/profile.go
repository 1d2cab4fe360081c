package state

import "math"

// profileKind is what a profile entry remembers.
type profileKind uint8

const (
	kindCountry profileKind = iota
	kindCity
	kindASN
	kindDevice
	kindNetwork
	numKinds
)

// maxPerKind bounds the entries of each kind in a profile; the least
// recently seen entry makes room for a new one.
const maxPerKind = 16

// profileKey is one value of one kind, hashed to 32 bits (two values of
// one kind in one profile collide with probability about 16/2^32); valid
// is false when the attempt does not know the value (no GeoIP data, no
// device key).
type profileKey struct {
	hash  uint32
	valid bool
}

func newProfileKey(hash uint64) profileKey { return profileKey{uint32(hash >> 32), true} }

// profileKeys are an attempt's values, indexed by kind.
type profileKeys [numKinds]profileKey

// profileEntry is a place, network or device a user logged in from
// successfully: 16 bytes. count saturates.
type profileEntry struct {
	hash  uint32
	first uint32
	last  uint32
	count uint16
	kind  profileKind
}

// profile is what a user's successful logins taught: where, from which
// networks and devices, and the last one's time and place. Entries of all
// kinds share one slice (one allocation); a user has at most
// maxPerKind*numKinds of them.
type profile struct {
	entries        []profileEntry
	successesTotal uint32
	lastSuccessAt  uint32
	// loadedThrough is the last success of a profile loaded from
	// history: successes replayed at or before it are already in
	// successesTotal.
	loadedThrough uint32
	lastGeoKnown  bool
	// float32 keeps a location to about a metre, far below GeoIP's
	// accuracy.
	lastLatitude  float32
	lastLongitude float32
}

// known reports whether the profile holds at least one success.
func (p *profile) known() bool { return p != nil && p.successesTotal > 0 }

// entryRefs locate an attempt's keys in a profile, by kind: the index of
// the entry plus one, 0 for a key the profile does not hold (or not
// valid). Entries number at most maxPerKind*numKinds, below 256.
type entryRefs [numKinds]uint8

// lookup finds, in one pass, which of the keys the profile holds, and
// where.
func (p *profile) lookup(keys *profileKeys) (found entryRefs) {
	if p == nil {
		return found
	}
	for i := range p.entries {
		e := &p.entries[i]
		if k := keys[e.kind]; k.valid && k.hash == e.hash {
			found[e.kind] = uint8(i + 1)
		}
	}
	return found
}

// missingKinds returns the kinds of the valid keys lookup did not find
// (found), a bit each.
func missingKinds(keys *profileKeys, found *entryRefs) uint8 {
	var missing uint8
	for kind, k := range keys {
		if k.valid && found[kind] == 0 {
			missing |= 1 << kind
		}
	}
	return missing
}

// noteFound records the keys of an attempt as noteKeys does, when lookup
// found every valid one (found, on this profile, unchanged since; missing
// is missingKinds): then each is one entry to update, with no pass over
// the others. It reports false, changing nothing, when a key is missing.
func (p *profile) noteFound(found *entryRefs, missing uint8, at uint32) bool {
	if missing != 0 {
		return false
	}
	for _, ref := range found {
		if ref != 0 {
			p.entries[ref-1].seen(at)
		}
	}
	return true
}

// seen counts one more success with the entry's value at at.
func (e *profileEntry) seen(at uint32) {
	e.first = min(e.first, at)
	e.last = max(e.last, at)
	if e.count < math.MaxUint16 {
		e.count++
	}
}

// note records that kind/hash was seen in a success at at.
func (p *profile) note(kind profileKind, hash uint32, at uint32) {
	n, oldest := 0, -1
	for i := range p.entries {
		e := &p.entries[i]
		if e.kind != kind {
			continue
		}
		if e.hash == hash {
			e.seen(at)
			return
		}
		n++
		if oldest < 0 || e.last < p.entries[oldest].last {
			oldest = i
		}
	}
	entry := profileEntry{hash: hash, first: at, last: at, count: 1, kind: kind}
	if n < maxPerKind {
		p.entries = append(p.entries, entry)
		return
	}
	if p.entries[oldest].last <= at {
		p.entries[oldest] = entry
	}
}

// noteKeys records every valid key of an attempt, as note would one
// after the other, in one pass over the entries. A new profile's entries
// are allocated to the size of its first success.
func (p *profile) noteKeys(keys *profileKeys, at uint32) {
	if p.entries == nil {
		n := 0
		for _, k := range keys {
			if k.valid {
				n++
			}
		}
		p.entries = make([]profileEntry, 0, n)
	}
	var found, oldest [numKinds]int // index+1, 0 for none
	var count [numKinds]int
	for i := range p.entries {
		e := &p.entries[i]
		k := keys[e.kind]
		switch {
		case !k.valid:
		case e.hash == k.hash:
			found[e.kind] = i + 1
		default:
			count[e.kind]++
			if o := oldest[e.kind]; o == 0 || e.last < p.entries[o-1].last {
				oldest[e.kind] = i + 1
			}
		}
	}
	for kind, k := range keys {
		if !k.valid {
			continue
		}
		switch {
		case found[kind] != 0:
			p.entries[found[kind]-1].seen(at)
		case count[kind] < maxPerKind:
			p.entries = append(p.entries, profileEntry{hash: k.hash, first: at, last: at, count: 1, kind: profileKind(kind)})
		case p.entries[oldest[kind]-1].last <= at:
			p.entries[oldest[kind]-1] = profileEntry{hash: k.hash, first: at, last: at, count: 1, kind: profileKind(kind)}
		}
	}
}
