package state

import (
	"math"
	"math/bits"
	"time"
)

// Event times in the store are whole seconds since 2000-01-01T00:00:00Z in
// a uint32 (schemas.Validate rejects earlier years), saturating at 1 and at
// 2^32-1 (in 2136). Zero means "never".
const epoch2000 = 946684800

func toEventTime(t time.Time) uint32 {
	s := t.Unix() - epoch2000
	switch {
	case s < 1:
		return 1
	case s > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(s)
}

// Window lengths, in seconds.
const (
	minute = 60
	hour   = 3600
	day    = 24 * hour
)

// attempt is one login attempt as a window keeps it: 8 bytes.
type attempt struct {
	at uint32
	// tag holds the outcome in bit 0 (1 = failure) and, for user
	// windows, 31 bits of the hash of the attempt's network (/24 or
	// /64) above it.
	tag uint32
}

func (a attempt) failure() bool { return a.tag&1 != 0 }

// makeTag builds an attempt tag from a 64-bit network hash (0 for none).
func makeTag(networkHash uint64, failure bool) uint32 {
	t := uint32(networkHash>>33) << 1
	if failure {
		t |= 1
	}
	return t
}

// windowSpec shapes a window: how far back it keeps attempts, how many it
// keeps exactly, and which window lengths it answers (0 = unused).
type windowSpec struct {
	horizon    uint32
	maxRecords int
	spans      [4]uint32
	// networkSpan is the window of the per-network failure count (0 =
	// not counted).
	networkSpan uint32
	// active is the number of spans in use, networkIndex the span
	// equal to networkSpan (-1 for none): set by newWindowSpec.
	active       int
	networkIndex int
	// The spill's minute buckets serve the spans [0, short), its hour
	// buckets the others. spanBuckets[j] is span j in buckets of its
	// ring's width, when aligned: every span is a whole number of them,
	// so the buckets outside a span at t are those up to t's bucket
	// minus spanBuckets[j], with no division.
	short       int
	aligned     bool
	spanBuckets [4]int64
}

// newWindowSpec returns the spec of a window keeping maxRecords exact
// records within horizon and answering spans (positive, ascending, at
// most four), with a per-network failure count over networkSpan (0 for
// none).
func newWindowSpec(horizon uint32, maxRecords int, networkSpan uint32, spans ...uint32) windowSpec {
	spec := windowSpec{horizon: horizon, maxRecords: maxRecords, networkSpan: networkSpan, networkIndex: -1, aligned: true}
	spec.active = copy(spec.spans[:], spans)
	for j, span := range spans {
		if networkSpan != 0 && span == networkSpan {
			spec.networkIndex = j
		}
		width := uint32(hour)
		if span <= hour {
			spec.short, width = j+1, minute
		}
		spec.spanBuckets[j] = int64(span / width)
		spec.aligned = spec.aligned && span%width == 0
	}
	return spec
}

// window counts one key's attempts over sliding event-time windows. The
// newest maxRecords attempts within the horizon are kept exactly, sorted
// by time (an out-of-order attempt is inserted in its place), in a ring,
// so that dropping the oldest moves no records. When more
// arrive, the oldest record is moved into a spill of one-minute buckets
// (the last hour) and one-hour buckets (the last day, for horizons longer
// than an hour), allocated on the first spill only, so keys with little
// traffic pay for their records alone.
//
// A window also keeps cursors: for each span, the index of the first
// record inside it and the failures from there on, at event time
// cursorAt. Reads and adds at or after cursorAt move them forward (each
// record leaves each span once), so an in-order read costs a few
// comparisons rather than a search and a pass over the records; a late
// read, before cursorAt, computes its counts from the records.
//
// Invariants (TestWindowAgainstReference, TestWindowRingKeepsRecords):
//   - the records are sorted by time, hold at most spec.maxRecords
//     attempts, and every spilled attempt is older than every record;
//   - len(ring) is a power of two;
//   - while cursorAt is not 0, no record is later than it, and for each
//     span j, records [inside[j], size) are exactly those inside the span
//     at cursorAt, failures[j] their failures; wider spans' cursors are at
//     or before narrower ones'.
type window struct {
	// ring holds the exact records, oldest first from head: record i
	// (0 is the oldest) is ring[(head+i) mod len(ring)], and len(ring)
	// is a power of two: firstRecords at first, growing to maxRecords
	// (rounded up to a power of two). (Until 2026-12-04 the first two
	// records were inline in the window, and an in-order add had a copy
	// of add of its own, addNewest; neither paid at the 100 k-user
	// scale: docs/features-performance.md, "Fast paths".)
	ring  []attempt
	spill *spill
	// head is the slot of the oldest record, size the number of records.
	head, size uint16
	// cursorAt is the time the cursors hold for (0: not valid); while
	// they are valid, every record is at or before it.
	cursorAt uint32
	// inside[j] is the index of the first record inside span j at
	// cursorAt, failures[j] the failures among records inside[j] on.
	inside   [4]uint16
	failures [4]uint16
}

// newest is the time of the newest attempt recorded (0 for none): the last
// record, since spilled attempts are older than every record.
func (w *window) newest() uint32 {
	if w.size == 0 {
		return 0
	}
	return w.record(int(w.size) - 1).at
}

// record returns record i, 0 being the oldest (i < size).
func (w *window) record(i int) *attempt {
	return &w.ring[(int(w.head)+i)&(len(w.ring)-1)]
}

// segments returns the records [lo, hi) as the one or two runs of the
// ring that hold them, in time order.
func (w *window) segments(lo, hi int) (first, second []attempt) {
	if lo >= hi {
		return nil, nil
	}
	start := (int(w.head) + lo) & (len(w.ring) - 1)
	end := start + hi - lo
	if end <= len(w.ring) {
		return w.ring[start:end], nil
	}
	return w.ring[start:], w.ring[:end-len(w.ring)]
}

// firstAfter returns the index of the first of the records [lo, hi)
// later than from (hi when none is).
func (w *window) firstAfter(lo, hi int, from int64) int {
	first, second := w.segments(lo, hi)
	if len(second) > 0 && int64(first[len(first)-1].at) <= from {
		return lo + len(first) + firstAfter(second, from)
	}
	return lo + firstAfter(first, from)
}

// failuresIn counts the failures among the records [lo, hi).
func (w *window) failuresIn(lo, hi int) int {
	first, second := w.segments(lo, hi)
	return failuresOf(first) + failuresOf(second)
}

func failuresOf(recs []attempt) int {
	n := 0
	for _, r := range recs {
		n += int(r.tag & 1)
	}
	return n
}

// networkFailuresIn counts the failures tagged networkTag among the
// records [lo, hi).
func (w *window) networkFailuresIn(lo, hi int, networkTag uint32) int {
	first, second := w.segments(lo, hi)
	return networkFailuresOf(first, networkTag) + networkFailuresOf(second, networkTag)
}

func networkFailuresOf(recs []attempt, networkTag uint32) int {
	failure := networkTag | 1 // the tag of a failure from the network
	n := 0
	for _, r := range recs {
		if r.tag == failure {
			n++
		}
	}
	return n
}

// windowCounts are a window's counts at one time, per span of the spec.
type windowCounts struct {
	failures        [4]int
	successes       [4]int
	networkFailures int
}

// counts reads the window at event time t: attempts in (t-span, t] for
// each span, and failures from the network tagged networkTag within the
// spec's networkSpan. Attempts later than t (t is a late event) are not
// counted. At or after cursorAt the records are counted by the cursors;
// before it, from the records themselves (recordCounts).
func (w *window) counts(t uint32, spec *windowSpec, networkTag uint32) windowCounts {
	var c windowCounts
	if !w.sync(t, spec) {
		c = w.recordCounts(t, spec, networkTag)
	} else {
		size := int(w.size)
		for j := range w.failures[:spec.activeSpans()] {
			failures := int(w.failures[j])
			c.failures[j], c.successes[j] = failures, size-int(w.inside[j])-failures
		}
		if spec.networkSpan > 0 {
			c.networkFailures = w.networkFailures(t, spec, networkTag)
		}
	}
	if w.spill != nil {
		w.spill.count(t, spec, &c)
	}
	return c
}

// networkFailures counts the failure records tagged networkTag within the
// spec's networkSpan before t, with the cursors valid at t: none when no
// failure is inside the span, else a pass over the records inside it.
func (w *window) networkFailures(t uint32, spec *windowSpec, networkTag uint32) int {
	size := int(w.size)
	var start int
	if j := spec.networkIndex; j >= 0 {
		if w.failures[j] == 0 {
			return 0
		}
		start = int(w.inside[j])
	} else {
		start = w.firstAfter(0, size, int64(t)-int64(spec.networkSpan))
	}
	return w.networkFailuresIn(start, size, networkTag)
}

// sync moves the cursors to time t, or sets them from the records when
// they are not valid. It reports false, leaving them alone, when t is
// before cursorAt (or, for cursors not valid, before the newest record):
// a late read.
func (w *window) sync(t uint32, spec *windowSpec) bool {
	n := spec.activeSpans()
	size := int(w.size)
	if w.cursorAt == 0 {
		if t == 0 || w.newest() > t {
			return false
		}
		for j := range n {
			start := w.firstAfter(0, size, int64(t)-int64(spec.spans[j]))
			w.inside[j], w.failures[j] = uint16(start), uint16(w.failuresIn(start, size))
		}
		w.cursorAt = t
		return true
	}
	if t < w.cursorAt {
		return false
	}
	if t == w.cursorAt {
		return true
	}
	head, mask := int(w.head), len(w.ring)-1
	for j := range w.inside[:n] {
		from := int64(t) - int64(spec.spans[j])
		i, failures := int(w.inside[j]), w.failures[j]
		for i < size {
			r := &w.ring[(head+i)&mask]
			if int64(r.at) > from {
				break
			}
			failures -= uint16(r.tag & 1)
			i++
		}
		if i == 0 {
			// The oldest record is inside span j, so inside every
			// wider one: their cursors (at 0 too) stay.
			break
		}
		w.inside[j], w.failures[j] = uint16(i), failures
	}
	w.cursorAt = t
	return true
}

// recordCounts counts the records at event time t, as counts does, from
// the records alone: the records are sorted, so each span's boundary is a
// binary search and each segment between two boundaries one branch-free
// pass.
func (w *window) recordCounts(t uint32, spec *windowSpec, networkTag uint32) windowCounts {
	var c windowCounts
	n := spec.activeSpans()
	hi := int(w.size)
	for hi > 0 && w.record(hi-1).at > t { // a late read skips the newer records
		hi--
	}
	end := hi // records [start, end) are in span j but not in span j-1
	for j := range n {
		start := w.firstAfter(0, end, int64(t)-int64(spec.spans[j]))
		failures := w.failuresIn(start, end)
		c.failures[j], c.successes[j] = failures, end-start-failures
		if j > 0 {
			c.failures[j] += c.failures[j-1]
			c.successes[j] += c.successes[j-1]
		}
		end = start
	}
	if spec.networkSpan > 0 {
		start := w.firstAfter(0, hi, int64(t)-int64(spec.networkSpan))
		c.networkFailures = w.networkFailuresIn(start, hi, networkTag)
	}
	return c
}

// firstAfter returns the index of the first record later than from
// (records are sorted by time).
func firstAfter(recs []attempt, from int64) int {
	lo, hi := 0, len(recs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int64(recs[mid].at) > from {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// activeSpans is the number of spans in use.
func (spec *windowSpec) activeSpans() int { return spec.active }

// add records an attempt. Attempts older than the horizon before the
// newest attempt seen are outside every window and are not kept. The
// cursors, when valid, are moved to the attempt's time first (when it is
// later) and follow the records' moves.
func (w *window) add(a attempt, spec *windowSpec) {
	newest := max(w.newest(), a.at)
	if int64(a.at) <= int64(newest)-int64(spec.horizon) {
		return
	}
	if w.cursorAt != 0 {
		w.sync(a.at, spec) // no move when a.at is before cursorAt
	}
	if w.size > 0 && int64(w.record(0).at) <= int64(newest)-int64(spec.horizon) { // rare: checked inline
		w.prune(newest, spec.horizon)
	}
	n := spec.activeSpans()
	if int(w.size) >= spec.maxRecords {
		if a.at < w.record(0).at {
			w.spillAdd(a, newest, spec)
			return
		}
		w.evictOldest(newest, spec)
	}
	if int(w.size) == len(w.ring) {
		w.grow(spec.maxRecords)
	}
	i := int(w.size)
	for ; i > 0; i-- { // move the later records up one: none when a is in order
		prev := w.record(i - 1)
		if prev.at <= a.at {
			break
		}
		*w.record(i) = *prev
	}
	*w.record(i) = a
	w.size++
	switch {
	case w.cursorAt == 0:
	case a.at >= w.cursorAt:
		// In order (the cursors are at a.at): inside every span.
		if a.failure() {
			for j := range w.failures[:n] {
				w.failures[j]++
			}
		}
	default:
		// An attempt inside span j lands at or after its cursor; one
		// outside lands before it (every record before the cursor is
		// outside too), moving it up one.
		for j := range n {
			if int64(a.at) > int64(w.cursorAt)-int64(spec.spans[j]) {
				w.failures[j] += uint16(a.tag & 1)
			} else {
				w.inside[j]++
			}
		}
	}
}

// evictOldest moves the oldest record into the spill, newest being the
// newest attempt, and moves valid cursors with it.
func (w *window) evictOldest(newest uint32, spec *windowSpec) {
	evicted := *w.record(0)
	w.spillAdd(evicted, newest, spec)
	w.head = uint16((int(w.head) + 1) & (len(w.ring) - 1))
	w.size--
	if w.cursorAt == 0 {
		return
	}
	// Cursors past the evicted record move down one; those at it (the
	// evicted record was inside their spans) lose its failure. Wider
	// spans' cursors are at or before narrower ones', so the second kind
	// are the last spans.
	n := spec.activeSpans()
	for j := range w.inside[:n] {
		if w.inside[j] == 0 {
			if evicted.failure() {
				for k := j; k < n; k++ {
					w.failures[k]--
				}
			}
			return
		}
		w.inside[j]--
	}
}

// firstRecords is the size of a window's first storage (a power of
// two): most keys see one or two attempts.
const firstRecords = 2

// grow makes room for one more record, when the ring is full: storage
// of firstRecords records first, then of 8, doubling up to maxRecords
// (rounded up to a power of two). The records move to the new ring's
// start.
func (w *window) grow(maxRecords int) {
	if w.ring == nil {
		w.ring, w.head = make([]attempt, firstRecords), 0
		return
	}
	size := int(w.size)
	want := min(max(8, 2*len(w.ring)), max(maxRecords, size+1))
	grown := make([]attempt, 1<<bits.Len(uint(want-1)))
	first, second := w.segments(0, size)
	copy(grown[copy(grown, first):], second)
	w.ring, w.head = grown, 0
}

// prune drops the records at or before now-horizon, keeping the ring.
// With valid cursors, now is at most cursorAt, so the records dropped
// are outside every span at cursorAt, before every cursor.
func (w *window) prune(now, horizon uint32) {
	if w.size == 0 || int64(w.record(0).at) > int64(now)-int64(horizon) {
		return // nothing to drop, the usual case
	}
	if i := w.firstAfter(0, int(w.size), int64(now)-int64(horizon)); i > 0 {
		w.head = uint16((int(w.head) + i) & (len(w.ring) - 1))
		w.size -= uint16(i)
		for j := range w.inside {
			w.inside[j] -= uint16(min(i, int(w.inside[j])))
		}
	}
}

// spillAdd counts an evicted attempt in the buckets.
func (w *window) spillAdd(a attempt, newest uint32, spec *windowSpec) {
	if w.spill == nil {
		w.spill = newSpill(spec)
	}
	w.spill.minutes.add(a, newest, spec)
	if len(w.spill.hours.buckets) > 0 {
		w.spill.hours.add(a, newest, spec)
	}
}

// compact frees what a window no longer needs at now: records past the
// horizon, a spill whose buckets are all past it, and the storage of an
// empty window. It reports whether the window is empty.
func (w *window) compact(now uint32, spec *windowSpec) bool {
	w.cursorAt = 0 // now may be past cursorAt: prune's reasoning does not hold
	w.prune(now, spec.horizon)
	if w.spill != nil && !w.spill.liveAt(now, spec.horizon) {
		w.spill = nil
	}
	if w.size == 0 {
		w.ring, w.head = nil, 0
	}
	return w.ring == nil && w.spill == nil
}
