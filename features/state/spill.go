package state

import "math"

// The spill: where a busy window keeps the attempts its records no
// longer hold, counted in rings of buckets.

// spill holds the attempts evicted from a window's records, by bucket:
// one-minute buckets serve the spans up to an hour, one-hour buckets the
// longer ones (every spilled attempt is counted in both).
//
// Invariants (TestWindowAgainstReference): a bucket counts only attempts
// of its own period id (a slot holding an older period is reset before
// reuse, an attempt older than the slot's period is dropped); a bucket is
// inside a span when it starts inside it, so a count can only be low, by
// the attempts of the one bucket straddling the span's start.
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
//
// Invariant: while sumsAt is not 0, sums[j] is the sum of the buckets
// after outside[j] (those inside span j at sumsAt), for j in [from, to).
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
