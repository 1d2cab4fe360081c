package schemas

import (
	"hash/maphash"
	"sync/atomic"
)

// Decoder is Decode with the user agents it reads interned: a user agent
// seen before (a few browser versions make most of the traffic) is the
// string decoded then, so decoding an event allocates only for its
// identifiers (one string, kept by the decision) instead of also for its
// user agent (about 100 bytes that no one keeps). The zero Decoder and a
// nil *Decoder intern nothing; NewDecoder's does. A Decoder is safe for
// concurrent use.
//
// Measured in docs/features-performance.md ("Allocations per event"):
// one allocation and ~110 bytes fewer per event in BenchmarkPipeline.
type Decoder struct {
	agents *interner
}

// decoderAgents is the number of user agents a Decoder remembers, one per
// slot of a direct-mapped table (a new agent replaces the one in its
// slot): 4,096 slots of at most internMaxLen bytes hold the common
// browsers of a large site in under 2 MiB.
const decoderAgents = 4096

// NewDecoder returns a Decoder that interns user agents.
func NewDecoder() *Decoder {
	return &Decoder{agents: newInterner(decoderAgents)}
}

// Decode is the package's Decode, interning the user agent.
func (d *Decoder) Decode(data []byte, ev *LoginEvent) error {
	var agents *interner
	if d != nil {
		agents = d.agents
	}
	if handled, err := decodeFast(data, ev, agents); handled {
		return err
	}
	return decodeSlow(data, ev)
}

// internMaxLen bounds the strings an interner keeps: a longer one (rare,
// or hostile) is copied as if it were not interned.
const internMaxLen = 512

// interner is a direct-mapped table of strings by their bytes, read and
// written without a lock: a slot is an atomic pointer to an immutable
// string.
type interner struct {
	seed  maphash.Seed
	slots []atomic.Pointer[string]
}

// newInterner returns an interner of n slots (a power of 2).
func newInterner(n int) *interner {
	return &interner{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[string], n)}
}

// string returns raw as a string: the one kept in raw's slot when it has
// these bytes, else a copy, which then takes the slot. A nil interner
// copies.
func (in *interner) string(raw []byte) string {
	if in == nil || len(raw) > internMaxLen {
		return string(raw)
	}
	slot := &in.slots[maphash.Bytes(in.seed, raw)&uint64(len(in.slots)-1)]
	if p := slot.Load(); p != nil && *p == string(raw) {
		return *p
	}
	s := string(raw)
	slot.Store(&s)
	return s
}
