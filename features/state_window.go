package features

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
type window struct {
	// ring holds the exact records, oldest first from head: record i
	// (0 is the oldest) is ring[(head+i) mod len(ring)], and len(ring)
	// is a power of two. It is inline while the records fit, so a key
	// with few attempts needs no allocation (nor a pointer to follow)
	// for them; past that it is storage of its own, which grows to
	// maxRecords (rounded up to a power of two).
	ring   []attempt
	inline [inlineRecords]attempt
	spill  *spill
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

// spill holds the attempts evicted from a window's records, by bucket:
// one-minute buckets serve the spans up to an hour, one-hour buckets the
// longer ones (every spilled attempt is counted in both).
type spill struct {
	minutes spillRing
	hours   spillRing // no buckets when the horizon is an hour or less
}

func newSpill(spec *windowSpec) *spill {
	n, short := spec.activeSpans(), spec.short
	s := &spill{
		minutes: spillRing{buckets: make([]bucket, hour/minute), width: minute, from: 0, to: uint8(short)},
		hours:   spillRing{width: hour, from: uint8(short), to: uint8(n)},
	}
	if spec.horizon > hour {
		s.hours.buckets = make([]bucket, day/hour)
	}
	return s
}

// spillRing is a ring of buckets of one width, indexed by id modulo its
// length, serving the spans [from, to) of its window's spec. It keeps, for
// each of those spans, the sum of the buckets inside the span at time
// sumsAt, and moves the sums forward as time passes (each bucket leaves
// each span once), so that a read at the newest time costs a few
// additions rather than a walk over the ring; an earlier (late) read
// walks the ring.
type spillRing struct {
	buckets  []bucket
	width    uint32
	from, to uint8
	sumsAt   uint32 // 0: sums not started
	// sumsUntil is the start of the bucket after sumsAt's (0 when it
	// would not fit): until then, no bucket enters or leaves a span.
	sumsUntil uint32
	outside   [4]int64 // per span: the newest bucket id outside it at sumsAt
	sums      [4]bucket
}

// bucket counts attempts in [id*width, (id+1)*width) seconds.
type bucket struct {
	id        uint32
	failures  uint32
	successes uint32
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

// count adds the spilled attempts to c.
func (s *spill) count(t uint32, spec *windowSpec, c *windowCounts) {
	s.minutes.read(t, spec, c)
	if len(s.hours.buckets) > 0 {
		s.hours.read(t, spec, c)
	}
}

// lastOutside is the id of the newest bucket of the given width that lies
// outside the span ending at t: a bucket is inside when it starts after
// t-span.
func lastOutside(t, span, width uint32) int64 {
	from := int64(t) - int64(span)
	if from < 0 {
		return -1
	}
	return from / int64(width)
}

// lastOutside is lastOutside(t, spec.spans[j], r.width), without a
// division for an aligned spec.
func (r *spillRing) lastOutside(t uint32, spec *windowSpec, j uint8) int64 {
	if !spec.aligned {
		return lastOutside(t, spec.spans[j], r.width)
	}
	return max(int64(r.period(t))-spec.spanBuckets[j], -1)
}

// period is the id of the bucket holding time t, t/width: a division by
// a constant (a multiplication) for the widths newSpill makes.
func (r *spillRing) period(t uint32) uint32 {
	switch r.width {
	case minute:
		return t / minute
	case hour:
		return t / hour
	}
	return t / r.width
}

// slot is the index of the bucket of period id, id mod len(buckets), as
// period divides.
func (r *spillRing) slot(id uint32) int {
	switch len(r.buckets) {
	case hour / minute:
		return int(id % (hour / minute))
	case day / hour:
		return int(id % (day / hour))
	}
	return int(id % uint32(len(r.buckets)))
}

// read adds to c the spilled attempts of the ring's spans at time t.
func (r *spillRing) read(t uint32, spec *windowSpec, c *windowCounts) {
	if len(r.buckets) == 0 || r.from == r.to {
		return
	}
	switch {
	case r.sumsAt != 0 && t >= r.sumsAt && t < r.sumsUntil && spec.aligned:
		r.sumsAt = t // the same bucket: the sums hold (advance's first case)
	case r.sumsAt != 0 && t < r.sumsAt:
		r.walk(t, spec, c.failures[:], c.successes[:])
		return
	default:
		r.advance(t, spec)
	}
	for j := r.from; j < r.to; j++ {
		c.failures[j] += int(r.sums[j].failures)
		c.successes[j] += int(r.sums[j].successes)
	}
}

// advance moves the sums to time t (not before sumsAt): buckets that left
// a span are subtracted from it, buckets of the periods after sumsAt (they
// exist when sumsAt was a late read) added to the spans they are in. The
// first time, or after a gap longer than the ring, it recomputes them.
func (r *spillRing) advance(t uint32, spec *windowSpec) {
	if r.sumsAt != 0 && t < r.sumsUntil && spec.aligned {
		r.sumsAt = t // the same bucket: no bucket entered or left a span
		return
	}
	oldCurrent, current := int64(r.period(r.sumsAt)), int64(r.period(t))
	r.sumsUntil = uint32(min((current+1)*int64(r.width), math.MaxUint32+1)) // 0 when past
	if r.sumsAt != 0 && current-oldCurrent < int64(len(r.buckets)) {
		for j := r.from; j < r.to; j++ {
			last := r.lastOutside(t, spec, j)
			for id := r.outside[j] + 1; id <= min(last, oldCurrent); id++ {
				if b := r.bucket(id); b != nil {
					r.sums[j].failures -= b.failures
					r.sums[j].successes -= b.successes
				}
			}
			r.outside[j] = last
		}
		for id := oldCurrent + 1; id <= current; id++ {
			if b := r.bucket(id); b != nil {
				for j := r.from; j < r.to; j++ {
					if id > r.outside[j] {
						r.sums[j].failures += b.failures
						r.sums[j].successes += b.successes
					}
				}
			}
		}
		r.sumsAt = t
		return
	}
	var failures, successes [4]int
	r.walk(t, spec, failures[:], successes[:])
	for j := r.from; j < r.to; j++ {
		r.sums[j] = bucket{failures: uint32(failures[j]), successes: uint32(successes[j])}
		r.outside[j] = r.lastOutside(t, spec, j)
	}
	r.sumsAt = t
}

// bucket returns the bucket of period id, or nil when its slot holds
// another period.
func (r *spillRing) bucket(id int64) *bucket {
	if b := &r.buckets[r.slot(uint32(id))]; int64(b.id) == id {
		return b
	}
	return nil
}

// walk adds to failures[j] and successes[j] the buckets that start in
// (t-spans[j], t], for the ring's spans, walking once from the bucket
// holding t back in time. A bucket holding another period than its slot's
// turn is stale and skipped.
func (r *spillRing) walk(t uint32, spec *windowSpec, failures, successes []int) {
	current := r.period(t)
	slot := r.slot(current)
	j, f, sc := int(r.from), 0, 0
	for k := uint32(0); k < uint32(len(r.buckets)) && k <= current; k++ {
		id := current - k
		for j < int(r.to) && int64(id) <= r.lastOutside(t, spec, uint8(j)) {
			failures[j] += f // this bucket and older ones are outside span j
			successes[j] += sc
			j++
		}
		if j == int(r.to) {
			return
		}
		if b := &r.buckets[slot]; b.id == id {
			f += int(b.failures)
			sc += int(b.successes)
		}
		if slot--; slot < 0 {
			slot = len(r.buckets) - 1
		}
	}
	for ; j < int(r.to); j++ {
		failures[j] += f
		successes[j] += sc
	}
}

// add counts an attempt in its bucket. newest is the newest attempt of the
// window: the sums are moved to it first, so that a slot recycled for a
// later period no longer counts in any sum.
func (r *spillRing) add(a attempt, newest uint32, spec *windowSpec) {
	if r.sumsAt != 0 && newest > r.sumsAt {
		r.advance(newest, spec)
	}
	id := r.period(a.at)
	b := &r.buckets[r.slot(id)]
	if b.id != id {
		if b.id > id {
			return // the slot already holds a later period: a is too old to matter
		}
		*b = bucket{id: id}
	}
	failure := a.tag & 1
	b.failures += failure
	b.successes += 1 - failure
	if r.sumsAt == 0 {
		return // no sums yet
	}
	// The sums are at or after a (at newest), so a's bucket is not
	// after them; it is inside the spans whose newest bucket outside
	// is before it: the widest ones, as outside falls with the span.
	for j := int(r.to) - 1; j >= int(r.from) && int64(id) > r.outside[j]; j-- {
		r.sums[j].failures += failure
		r.sums[j].successes += 1 - failure
	}
}

// add records an attempt. Attempts older than the horizon before the
// newest attempt seen are outside every window and are not kept. The
// cursors, when valid, are moved to the attempt's time first (when it is
// later) and follow the records' moves.
func (w *window) add(a attempt, spec *windowSpec) {
	if w.cursorAt != 0 && a.at == w.cursorAt && w.ring != nil && w.size > 0 {
		// Observe's case: a read at a.at set the cursors; a is the
		// newest attempt unless one recorded after it is newer.
		mask, head, size := len(w.ring)-1, int(w.head), int(w.size)
		if w.ring[(head+size-1)&mask].at <= a.at && w.ring[head&mask].at > a.at-min(a.at, spec.horizon) {
			w.addNewest(a, spec)
			return
		}
	}
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

// addNewest is add for an attempt at cursorAt, at or after every record,
// with no record to prune: the cursors stay, and a lands last.
func (w *window) addNewest(a attempt, spec *windowSpec) {
	n := spec.activeSpans()
	if int(w.size) >= spec.maxRecords {
		w.evictOldest(a.at, spec)
	}
	if int(w.size) == len(w.ring) {
		w.grow(spec.maxRecords)
	}
	*w.record(int(w.size)) = a
	w.size++
	if a.failure() { // inside every span
		for j := range w.failures[:n] {
			w.failures[j]++
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

// inlineRecords is the number of records a window keeps inline (a power
// of two: the inline records are a ring too).
const inlineRecords = 2

// grow makes room for one more record, when the ring is full: the inline
// records first, then storage of 8 records, doubling up to maxRecords
// (rounded up to a power of two). The records move to the new ring's
// start.
func (w *window) grow(maxRecords int) {
	if w.ring == nil {
		w.ring, w.head = w.inline[:], 0
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

func (s *spill) liveAt(now, horizon uint32) bool {
	cut := int64(now) - int64(horizon)
	for _, r := range []*spillRing{&s.minutes, &s.hours} {
		for _, b := range r.buckets {
			if b.failures+b.successes > 0 && int64(b.id+1)*int64(r.width) > cut {
				return true
			}
		}
	}
	return false
}

// recentSet is a bounded set of 32-bit keys (hashes of users or of
// sources) with the time each was last seen, for distinct counts over
// windows. It is kept sorted by that time, oldest first, so a window's
// count is a binary search, expired keys are a prefix, and the least
// recently seen key, which makes room when the set is full, is the
// first. Its first keys are kept inline, as a window's first records are.
type recentSet struct {
	keys   seenKeys
	inline [inlineKeys]seenKey
}

// inlineKeys is the number of keys a set keeps inline: most users come
// from one or two addresses, most devices serve one user.
const inlineKeys = 2

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
	var found int
	if last := len(s) - 1; last >= 0 && s[last].key == current {
		found = last // the newest key again: a user's one source, a device's one user
	} else {
		found = rs.find(current)
	}
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

// find returns the index of key, or -1. A set with a filter (a full
// one) answers most misses from it, without the scan.
func (s *recentSet) find(key uint32) int {
	if f := s.filter(); f != nil && !f.mayHold(key) {
		return -1
	}
	return s.keys.find(key)
}

// A set of maxSourcesPerKey keys (a device's or an address's users when
// many share it, a user's sources under attack) misses on most lookups,
// and a miss scans every key. So the storage of such a set, allocated
// once it may hold that many, carries filterSlots more slots past its
// keys, which hold a filter of them instead: a bit per key, set when the
// key joins the set (in 15 words of 32 bits, the pairs of fields of the
// slots), and the number of keys noted since the bits were last rebuilt
// from the set (in the 16th word). A key that leaves keeps its bit until
// the next rebuild, after maxSourcesPerKey new keys: a bit set may be a
// false positive (the scan then misses), a bit clear never hides a key.
// A set's keys never reach past maxSourcesPerKey, so the filter is
// cap(keys) - filterSlots on.
const (
	filterSlots = 8
	filterBits  = (2*filterSlots - 1) * 32
	filteredCap = maxSourcesPerKey + filterSlots
)

// keyFilter is the filter of a set's keys.
type keyFilter [filterSlots]seenKey

// filter returns the set's filter, or nil when its storage has none.
func (s *recentSet) filter() *keyFilter {
	if cap(s.keys) != filteredCap {
		return nil
	}
	return (*keyFilter)(s.keys[maxSourcesPerKey:filteredCap])
}

// word returns the filter's word i (0 to 2*filterSlots-1).
func (f *keyFilter) word(i uint32) *uint32 {
	if i&1 == 0 {
		return &f[i/2].key
	}
	return &f[i/2].last
}

// bit is key's bit in the filter: key (a hash) scaled to [0, filterBits).
func filterBit(key uint32) (word, mask uint32) {
	b := uint32(uint64(key) * filterBits >> 32)
	return b / 32, 1 << (b % 32)
}

// mayHold reports false when key is not in the set.
func (f *keyFilter) mayHold(key uint32) bool {
	w, m := filterBit(key)
	return *f.word(w)&m != 0
}

// note sets the bit of key, which joined keys, and rebuilds the bits from
// keys once maxSourcesPerKey keys were noted since the last rebuild.
func (f *keyFilter) note(key uint32, keys seenKeys) {
	w, m := filterBit(key)
	*f.word(w) |= m
	noted := f.word(2*filterSlots - 1)
	if *noted++; *noted >= maxSourcesPerKey {
		f.rebuild(keys)
	}
}

// rebuild sets the bits of keys alone.
func (f *keyFilter) rebuild(keys seenKeys) {
	*f = keyFilter{}
	for _, k := range keys {
		w, m := filterBit(k.key)
		*f.word(w) |= m
	}
}

// addAt is add for a key at index i of the set (-1 for none), as count
// or find returned it.
func (s *recentSet) addAt(i int, key, at, horizon uint32, maxKeys int) {
	set := s.keys
	if last := len(set) - 1; i == last && i >= 0 && at >= set[i].last && int64(set[0].last) > int64(at)-int64(horizon) {
		set[i].last = at // the newest key again, nothing expired: it stays last
		return
	}
	if expired := set.seenAfter(int64(at) - int64(horizon)); expired > 0 {
		set = set[:copy(set, set[expired:])]
		i -= expired // below 0: the key expired too
	}
	isNew := i < 0
	inOrder := len(set) > 0 && at >= set[len(set)-1].last // key goes last
	switch {
	case i >= 0:
		if set[i].last >= at {
			s.keys = set
			return
		}
		if inOrder { // one move: the keys after i down, key last
			if i < len(set)-1 { // else key is last already
				copy(set[i:], set[i+1:])
			}
			set[len(set)-1] = seenKey{key: key, last: at}
			if len(set) != len(s.keys) { // else the same slice: no store
				s.keys = set
			}
			return
		}
		set = append(set[:i], set[i+1:]...)
	case len(set) >= maxKeys:
		if set[0].last >= at {
			s.keys = set
			return
		}
		if inOrder { // as above, in place of the least recently seen
			copy(set, set[1:])
			set[len(set)-1] = seenKey{key: key, last: at}
			s.keys = set
			if f := s.filter(); f != nil {
				f.note(key, set)
			}
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
	if f := s.filter(); f != nil && isNew {
		f.note(key, set)
	}
}

// grow returns set with room for one more key: the inline keys first,
// then storage of 8 keys, doubling up to maxKeys; storage for
// maxSourcesPerKey keys comes with a filter of them.
func (s *recentSet) grow(set seenKeys, maxKeys int) seenKeys {
	if set == nil {
		return s.inline[:0]
	}
	size := min(max(8, 2*cap(set)), max(maxKeys, len(set)+1))
	if size == maxSourcesPerKey && maxKeys == maxSourcesPerKey {
		grown := make(seenKeys, len(set), filteredCap)
		copy(grown, set)
		(*keyFilter)(grown[maxSourcesPerKey:filteredCap]).rebuild(set)
		return grown
	}
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
