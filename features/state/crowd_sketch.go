package state

import (
	"sync"

	"github.com/axiomhq/hyperloglog"
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
)

// Distinct counts beyond the exact bound. A crowd's member sets keep 64
// members exactly (recentSet). When a set is full and would drop a member
// still inside its window, the crowd starts a sketchRing for it: a
// HyperLogLog sketch (github.com/axiomhq/hyperloglog, precision 10: 1,024
// registers, 1 KiB, dense: an insert is one register; standard error
// 1.04/sqrt(1024), about 3.3 %) per time slot, seeded with the set's
// members. A count read from a saturated set is then the larger of 64 and
// the estimate of the union of the slots inside the window (the slot
// straddling its start counted whole: a 24-hour count covers 24 to 28
// hours, an hour's 60 to 70 minutes), so that "900
// accounts" is about 900, not 64. The union is kept up to date by each
// insert and merged again when the newest slot changes; its estimate is
// made again per sketchRefresh.

// sketchPrecision is the HyperLogLog precision: 2^10 registers.
const sketchPrecision = 10

// sketchRefresh is how many inserts a window's estimate may lag: it is
// made again only after that many inserts, or a 16th of the estimate if
// more, and a sixtieth of a slot of event time (10 s for the hour of
// failed users, 4 min for the week of succeeded ones), since an estimate
// reads all 1,024 registers (about 20 µs) and a busy crowd takes hundreds
// of attempts a second.
const sketchRefresh = 16

// maxSketchedCrowds caps the keys with sketches (a crowd's rings hold up
// to 7 + 43 sketches of 1 KiB and a union per window read; an address's
// ring of users, 7 and 2), crowds and addresses together: beyond it, a
// full set's count stays at 64. At the cap the sketches take about 200
// MiB, 32 MiB for the hour of failures.
const maxSketchedCrowds = 4 << 10

// sketchBudget counts the keys that hold sketch rings, crowds and
// addresses, up to maxSketchedCrowds.
type sketchBudget struct {
	mu sync.Mutex
	n  int
}

// reserve counts a key that starts its first ring, or refuses it at the
// cap.
func (b *sketchBudget) reserve() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n >= maxSketchedCrowds {
		return false
	}
	b.n++
	return true
}

// release uncounts a key whose rings are dropped.
func (b *sketchBudget) release() {
	b.mu.Lock()
	b.n--
	b.mu.Unlock()
}

// held returns the keys counted.
func (b *sketchBudget) held() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Slots of the rings: a sixth of the window for failed members (10
// minutes of an hour), 4 hours for the week of succeeded ones, whose 24
// hours are read too.
const succeededSlotWidth = 4 * hour

// sketchRing is one member set's sketches by time slot.
type sketchRing struct {
	width    uint32
	slots    []sketchSlot // slot id modulo len
	inserted int
	windows  [2]sketchWindow // one per window read (24 h and 7 d)
}

type sketchSlot struct {
	id uint32
	sk *hyperloglog.Sketch
}

// sketchWindow is the union of the slots of the window of span ending in
// slot last, kept up to date by insert, and its estimate made after at
// inserts.
type sketchWindow struct {
	union      *hyperloglog.Sketch // nil until first read
	span, last uint32
	estAt      uint32 // event time of the estimate
	at, est    int
}

// newSketch returns an empty sketch of sketchPrecision.
func newSketch() *hyperloglog.Sketch {
	sk, _ := hyperloglog.NewSketch(sketchPrecision, false) // a valid precision: no error
	return sk
}

// newSketchRing returns a ring of slots of width seconds covering
// horizon, seeded with the members of set.
func newSketchRing(width, horizon uint32, set *recentSet) *sketchRing {
	r := &sketchRing{width: width, slots: make([]sketchSlot, horizon/width+1)}
	for _, k := range set.keys {
		r.insert(k.key, k.last)
	}
	return r
}

// slotsIn is the number of slots of a window of span: the slot
// straddling its start counts whole.
func (r *sketchRing) slotsIn(span uint32) uint32 { return span/r.width + 1 }

// insert counts member as seen at at.
func (r *sketchRing) insert(member, at uint32) {
	id := at / r.width
	s := &r.slots[id%uint32(len(r.slots))]
	if s.sk == nil || s.id != id {
		if s.sk != nil && s.id > id {
			return // older than the ring keeps
		}
		if s.sk == nil {
			s.sk = newSketch()
		} else {
			s.sk.Reset()
		}
		s.id = id
	}
	h := keyhash.Mix64(uint64(member))
	s.sk.InsertHash(h)
	r.inserted++
	for i := range r.windows {
		if w := &r.windows[i]; w.union != nil && id <= w.last && id+r.slotsIn(w.span) > w.last {
			w.union.InsertHash(h)
		}
	}
}

// estimate returns the estimated number of distinct members seen in the
// slots of the window of span ending at t; which (0 or 1) names the
// window kept for it.
func (r *sketchRing) estimate(t, span uint32, which int) int {
	last := t / r.width
	w := &r.windows[which]
	switch {
	case w.union == nil || w.last != last || w.span != span:
		if w.union == nil {
			w.union = newSketch()
		} else {
			w.union.Reset()
		}
		w.span, w.last = span, last
		n := r.slotsIn(span)
		for i := range r.slots {
			if s := &r.slots[i]; s.sk != nil && s.id <= last && s.id+n > last {
				_ = w.union.Merge(s.sk) // same precision: no error
			}
		}
	case r.inserted-w.at < max(sketchRefresh, w.est/16) || int64(t)-int64(w.estAt) < int64(r.width/60):
		return w.est
	}
	w.at, w.estAt, w.est = r.inserted, t, int(w.union.Estimate())
	return w.est
}

// stale reports whether the ring holds nothing seen in the last horizon
// before now.
func (r *sketchRing) stale(now, horizon uint32) bool {
	for i := range r.slots {
		if s := &r.slots[i]; s.sk != nil && int64(s.id+1)*int64(r.width) > int64(now)-int64(horizon) {
			return false
		}
	}
	return true
}

// full reports whether a new member would push out of set one still
// inside its window of span at at: the moment counting needs a sketch.
func full(set *recentSet, member, at, span uint32) bool {
	k := set.keys
	return len(k) >= maxCrowdUsers && int64(k[0].last) > int64(at)-int64(span) && set.find(member) < 0
}

// countBeyond returns the count n of a set, or, when the set is full and
// has a ring, the larger of n and the ring's estimate.
func countBeyond(n int, r *sketchRing, t, span uint32, which int) int {
	if r == nil || n < maxCrowdUsers {
		return n
	}
	return max(n, r.estimate(t, span, which))
}
