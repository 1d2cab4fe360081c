package state

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWindowAgainstReference feeds windows random attempts (some out of
// order, some bursts past the exact records) and compares every read with
// a brute-force count over all attempts: equal while the attempts of the
// horizon fit in the records, and otherwise never higher and lower by at
// most the attempts of one bucket at the window's far edge. Late reads
// are checked while the window has not spilled.
func TestWindowAgainstReference(t *testing.T) {
	specs := []struct {
		name string
		spec windowSpec
	}{
		{"user", newWindowSpec(day, 64, 15*minute, minute, 15*minute, hour, day)},
		{"ip", newWindowSpec(hour, 64, 0, minute, 10*minute, hour)},
		{"tiny records", newWindowSpec(day, 4, 0, minute, 15*minute, hour, day)},
		{"network span of its own", newWindowSpec(day, 64, 10*minute, minute, 15*minute, hour, day)},
		{"spans not whole buckets", newWindowSpec(day, 8, 0, 90, 25*minute+30, 2*hour+17, day-1)},
	}
	for _, sp := range specs {
		for seed := range uint64(20) {
			t.Run(sp.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				var w window
				var all []attempt
				now := uint32(800_000_000)
				for step := range 600 {
					switch r := rng.IntN(100); {
					case r < 60:
						now += uint32(rng.IntN(30)) // bursts
					case r < 95:
						now += uint32(rng.IntN(900))
					default:
						now += uint32(rng.IntN(3 * hour))
					}
					at := now
					if rng.IntN(10) == 0 && now > 600 { // a late event
						at = now - uint32(rng.IntN(600))
					}
					a := attempt{at: at, tag: makeTag(uint64(rng.IntN(3))<<40, rng.IntN(3) == 0)}
					walked := walkedCounts(&w, at, &sp.spec, a.tag)
					got := w.counts(at, &sp.spec, a.tag)
					if got != walked {
						t.Fatalf("step %d: running sums give %+v, a walk over the buckets %+v", step, got, walked)
					}
					spilled := w.spill != nil
					w.add(a, &sp.spec)
					all = append(all, a)
					checkAgainstReference(t, step, &sp.spec, all[:len(all)-1], at, got, spilled)
				}
			})
		}
	}
}

// walkedCounts reads a copy of w whose spill sums and cursors are reset,
// so the buckets are walked and the records searched: the running sums
// and the cursors must agree with it.
func walkedCounts(w *window, t uint32, spec *windowSpec, tag uint32) windowCounts {
	cp := *w
	cp.cursorAt = 0
	if w.spill != nil {
		sp := *w.spill
		sp.minutes.sumsAt, sp.hours.sumsAt = 0, 0
		cp.spill = &sp
	}
	return cp.counts(t, spec, tag)
}

func checkAgainstReference(t *testing.T, step int, spec *windowSpec, all []attempt, at uint32, got windowCounts, spilled bool) {
	t.Helper()
	newest := uint32(0)
	for _, a := range all {
		newest = max(newest, a.at)
	}
	if at < newest && spilled {
		// A late read of a busy key is approximate (see the package
		// documentation): spilled attempts after it in the same bucket
		// count, and buckets recycled since are lost.
		return
	}
	inHorizon := 0
	for _, a := range all {
		if int64(a.at) > int64(newest)-int64(spec.horizon) {
			inHorizon++
		}
	}
	for j, span := range spec.spans {
		if span == 0 {
			continue
		}
		width := uint32(minute)
		if span > hour {
			width = hour
		}
		var failures, successes, edge int
		for _, a := range all {
			if a.at > at || int64(a.at) <= int64(at)-int64(span) {
				continue
			}
			if int64(a.at) < int64(at)-int64(span)+int64(width) {
				edge++ // in the bucket that may straddle the window start
			}
			if a.failure() {
				failures++
			} else {
				successes++
			}
		}
		// Attempts older than the horizon before the newest are dropped on
		// purpose; they can only be in the reference when a late read
		// reaches back past it.
		if inHorizon <= spec.maxRecords && int64(at)-int64(span) >= int64(newest)-int64(spec.horizon) {
			if got.failures[j] != failures || got.successes[j] != successes {
				t.Fatalf("step %d span %d: got %d/%d, want exactly %d/%d", step, span, got.failures[j], got.successes[j], failures, successes)
			}
			continue
		}
		if got.failures[j] > failures || got.successes[j] > successes {
			t.Fatalf("step %d span %d: got %d/%d, more than the %d/%d there are", step, span, got.failures[j], got.successes[j], failures, successes)
		}
		if lost := failures + successes - got.failures[j] - got.successes[j]; lost > edge && int64(at)-int64(span) >= int64(newest)-int64(spec.horizon) {
			t.Fatalf("step %d span %d: lost %d attempts, more than the %d at the window's edge", step, span, lost, edge)
		}
	}
}

// TestRecentSetAgainstReference checks distinct counts against a
// brute-force count: exact up to 64 distinct keys in the window, at least
// 64 beyond.
func TestRecentSetAgainstReference(t *testing.T) {
	tests := []struct {
		name string
		keys int // size of the key pool
	}{
		{"few keys", 40},
		{"more keys than the set holds", 1000},
	}
	spans := [2]uint32{10 * minute, hour}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.keys), 1))
			var s recentSet
			type seen struct{ key, at uint32 }
			var all []seen
			now := uint32(800_000_000)
			for step := range 3000 {
				now += uint32(rng.IntN(20))
				key := uint32(rng.IntN(tt.keys))
				got, _ := s.count(now, spans, key)
				for i, span := range spans {
					distinct := map[uint32]bool{key: true}
					for _, e := range all {
						if int64(e.at) > int64(now)-int64(span) {
							distinct[e.key] = true
						}
					}
					want := len(distinct)
					if got[i] > want || got[i] < min(want, maxSourcesPerKey) {
						t.Fatalf("step %d span %d: %d distinct, want %d (at least min(%d, %d))", step, span, got[i], want, want, maxSourcesPerKey)
					}
				}
				s.add(key, now, hour, maxSourcesPerKey)
				all = append(all, seen{key, now})
				if len(s.keys) > maxSourcesPerKey {
					t.Fatalf("set grew to %d keys", len(s.keys))
				}
			}
		})
	}
}

// lateClock is the event times of a model test: the clock moves on by
// up to step seconds an attempt, and one attempt in lateOneIn is up to
// late seconds behind it.
type lateClock struct {
	rng                   *rand.Rand
	now                   uint32
	step, lateOneIn, late int
}

// next is the event time of the next attempt.
func (c *lateClock) next() uint32 {
	c.now += uint32(c.rng.IntN(c.step))
	if c.rng.IntN(c.lateOneIn) == 0 {
		return c.now - uint32(c.rng.IntN(c.late))
	}
	return c.now
}

// TestRecentSetOutOfOrder checks a set that never fills against a model
// of its documented semantics, with late reads and adds: a key counts in
// (t-span, t] by the last time it was seen (a late read does not count a
// key seen only after it), and an add forgets the keys last seen a
// horizon or more before it.
func TestRecentSetOutOfOrder(t *testing.T) {
	spans := [2]uint32{10 * minute, hour}
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var s recentSet
		model := map[uint32]uint32{} // key → last seen
		clock := lateClock{rng: rng, now: 800_000_000, step: 60, lateOneIn: 5, late: 1200}
		for step := range 2000 {
			at := clock.next()
			key := uint32(rng.IntN(40))
			got, found := s.count(at, spans, key)
			for i, span := range spans {
				want := 1
				for k, last := range model {
					if k != key && last <= at && int64(last) > int64(at)-int64(span) {
						want++
					}
				}
				if got[i] != want {
					t.Fatalf("seed %d step %d span %d: %d distinct, want %d", seed, step, span, got[i], want)
				}
				if d, want := s.distinct(at, span), got[i]-1; d != want && d != want+1 {
					t.Fatalf("seed %d step %d span %d: distinct %d, count without the current key %d", seed, step, span, d, want)
				}
			}
			s.addAt(found, key, at, hour, maxSourcesPerKey)
			for k, last := range model {
				if int64(last) <= int64(at)-hour {
					delete(model, k)
				}
			}
			model[key] = max(model[key], at)
			for i := 1; i < len(s.keys); i++ {
				if s.keys[i-1].last > s.keys[i].last {
					t.Fatalf("seed %d step %d: set out of time order at %d", seed, step, i)
				}
			}
		}
	}
}

// TestNoteKeysAgainstNote: recording an attempt's keys in one pass gives
// the profile that noting them one kind after the other gives, past the
// 16 entries a kind keeps too; and so does updating the entries lookup
// found, when it found every key (noteFound), as Observe does.
func TestNoteKeysAgainstNote(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var onePass, oneByOne, byLookup profile
	foundAll := 0
	at := uint32(800_000_000)
	for step := range 3000 {
		at += uint32(rng.IntN(100))
		var keys profileKeys
		for kind := range keys {
			if rng.IntN(4) != 0 {
				keys[kind] = profileKey{hash: uint32(rng.IntN(40)), valid: true}
			}
		}
		when := at - uint32(rng.IntN(2))*uint32(rng.IntN(5000)) // some late
		onePass.noteKeys(&keys, when)
		found := byLookup.lookup(&keys)
		if byLookup.noteFound(&found, missingKinds(&keys, &found), when) {
			foundAll++
		} else {
			byLookup.noteKeys(&keys, when)
		}
		for kind, k := range keys {
			if k.valid {
				oneByOne.note(profileKind(kind), k.hash, when)
			}
		}
		if !slices.Equal(onePass.entries, oneByOne.entries) {
			t.Fatalf("step %d: one pass %v, one by one %v", step, onePass.entries, oneByOne.entries)
		}
		if !slices.Equal(byLookup.entries, onePass.entries) {
			t.Fatalf("step %d: by lookup %v, one pass %v", step, byLookup.entries, onePass.entries)
		}
	}
	if foundAll < 100 {
		t.Errorf("lookup found every key in %d steps: the test does not exercise noteFound", foundAll)
	}
}

// TestWindowRingKeepsRecords checks the ring of exact records against a
// sorted slice that drops records past the horizon and its oldest record
// when full, with late attempts and rings wrapping at every size: the
// records, read in order, are the slice's.
func TestWindowRingKeepsRecords(t *testing.T) {
	tests := []struct {
		name       string
		maxRecords int
	}{
		{"inline only", 2},
		{"four", 4},
		{"not a power of two", 12},
		{"user", maxUserRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newWindowSpec(hour, tt.maxRecords, 0, minute, 10*minute, hour)
			rng := rand.New(rand.NewPCG(uint64(tt.maxRecords), 11))
			var w window
			var model []attempt
			clock := lateClock{rng: rng, now: 800_000_000, step: 120, lateOneIn: 4, late: 900}
			for step := range 5000 {
				a := attempt{at: clock.next(), tag: makeTag(0, rng.IntN(2) == 0)}
				w.add(a, &spec)
				model = modelAdd(model, a, &spec)
				got := make([]attempt, 0, w.size)
				first, second := w.segments(0, int(w.size))
				got = append(append(got, first...), second...)
				if !slices.Equal(got, model) {
					t.Fatalf("step %d: ring holds %v, want %v", step, got, model)
				}
			}
		})
	}
}

// modelAdd adds a to the sorted records recs as a window keeps them.
func modelAdd(recs []attempt, a attempt, spec *windowSpec) []attempt {
	newest := a.at
	if len(recs) > 0 {
		newest = max(newest, recs[len(recs)-1].at)
	}
	if int64(a.at) <= int64(newest)-int64(spec.horizon) {
		return recs
	}
	recs = slices.DeleteFunc(recs, func(r attempt) bool { return int64(r.at) <= int64(newest)-int64(spec.horizon) })
	if len(recs) >= spec.maxRecords {
		if a.at < recs[0].at {
			return recs
		}
		recs = recs[1:]
	}
	i := len(recs)
	for i > 0 && recs[i-1].at > a.at {
		i--
	}
	return slices.Insert(recs, i, a)
}

// TestRecentSetFindsEveryKey fills a set past maxSourcesPerKey with keys
// that come back at random, as a device's users do: find returns every
// key's index, so counts and adds see it, and the set stays bounded.
func TestRecentSetFindsEveryKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var s recentSet
	now := uint32(800_000_000)
	for step := range 20_000 {
		now += uint32(rng.IntN(3))
		key := rng.Uint32() % 500 * 0x9E3779B1 // spread over 32 bits, as hashes are
		s.add(key, now, day, maxSourcesPerKey)
		if len(s.keys) > maxSourcesPerKey {
			t.Fatalf("step %d: %d keys", step, len(s.keys))
		}
		for i, k := range s.keys {
			if got := s.find(k.key); got != i {
				t.Fatalf("step %d: find(%#x) = %d, want %d", step, k.key, got, i)
			}
		}
	}
}
