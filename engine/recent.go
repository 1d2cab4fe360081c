package engine

import (
	"hash/maphash"
	"net/netip"
	"sync"

	"github.com/loginrisk/loginrisk/schemas"
)

// recentShards splits the recent tables' locks; the shard is picked by the
// top 8 bits of a key's hash.
const recentShards = 256

// recentDecisions remembers the outcomes of the last events by event_id:
// the dedupe that makes a redelivered or re-posted event count once and
// get the same decision, and the answer to GET /v1/decisions/{event_id}.
// An event_id is one attempt: each entry also remembers what identifies
// the attempt (see attempt), so that an event reusing the id for another
// attempt is told apart from a redelivery (a conflict, see ConflictError).
//
// Each shard keeps its entries in a FIFO ring (which bounds memory: the
// oldest entry makes room for the newest) indexed by an open-addressing
// table of 64-bit words, each a hash tag and a ring position. Score probes
// the index once, under the shard lock it holds while scoring, and inserts
// where the probe ended. A hit is verified against the event_id kept in
// the entry, so a hash collision can only make an id look absent (as if
// evicted early), never make one event a duplicate of another: a false
// duplicate would drop an attempt.
//
// An entry holds the id, the attempt's tenant, device_id and outcome, the
// decision and, only where the engine keeps them (a history writer is
// configured, so a duplicate can be recorded again in full), the event and
// its features: 88 bytes plus 16 of index per entry, besides the decision.
type recentDecisions struct {
	seed   maphash.Seed
	shards [recentShards]recentShard
}

type recentShard struct {
	mu    sync.Mutex
	index []uint64      // tag | ring position+1; 0 is a free slot; len a power of 2
	ring  []recentEntry // insertion order; a zero hash is a free slot
	next  uint32
}

// recentEntry is one remembered outcome. Event and Features are nil unless
// the engine keeps them.
type recentEntry struct {
	hash    uint64
	key     string
	attempt attempt
	outcome schemas.ScoredEvent
	// unobserved: the decision was read back from the decisions topic
	// (WarmPublished) and the event it answers has not been through the
	// state yet: the first delivery of the event is answered with it and
	// observed then (answerPublished). Only the decision is known: attempt
	// is empty.
	unobserved bool
}

// attempt is the part of what identifies an attempt that its decision
// does not hold (the decision holds the user, the address and the time),
// and its client device_id: the context a passed challenge or an
// analyst's false_positive trusts (see Feedback and passedChallenge).
type attempt struct {
	tenant  string
	device  string
	success bool
}

func attemptOf(ev *schemas.LoginEvent) attempt {
	return attempt{tenant: ev.TenantID, device: ev.DeviceID, success: ev.Success()}
}

// conflict returns the first field in which ev differs from the attempt
// remembered in e (tenant_id, user_id, ip, outcome, occurred_at), or "" when
// ev is the same attempt: a redelivery or a re-post. An unobserved entry
// knows only what its decision holds: user_id, ip and occurred_at. The address is
// compared parsed, so "::ffff:1.2.3.4" and "1.2.3.4" are one address.
func (e *recentEntry) conflict(ev *schemas.LoginEvent) string {
	d := e.outcome.Decision
	switch {
	case !e.unobserved && e.attempt.tenant != ev.TenantID:
		return "tenant_id"
	case d.UserID != ev.UserID:
		return "user_id"
	case d.IP != ev.IP && !sameAddr(d.IP, ev.Addr):
		return "ip"
	case !e.unobserved && e.attempt.success != ev.Success():
		return "outcome"
	case !d.OccurredAt.Equal(ev.OccurredAt):
		return "occurred_at"
	}
	return ""
}

// sameAddr reports whether the address text ip is addr.
func sameAddr(ip string, addr netip.Addr) bool {
	a, err := schemas.ParseIP(ip)
	return err == nil && addr.IsValid() && a == addr.Unmap()
}

// An index word keeps a ring position+1 in its low recentPosBits and the
// rest of the key's hash above them; the slot a hash starts probing at is
// taken from those bits too, so it can be recomputed from the word when
// entries are shifted back on delete.
const (
	recentPosBits = 24
	recentPosMask = 1<<recentPosBits - 1
	// recentMaxPerShard bounds a shard's ring by what a word can address.
	recentMaxPerShard = recentPosMask - 1
)

func newRecentDecisions(capacity int) *recentDecisions {
	per := min(max(capacity/recentShards, 16), recentMaxPerShard)
	slots := 1
	for slots < 2*per { // load factor at most 1/2
		slots <<= 1
	}
	r := &recentDecisions{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].index = make([]uint64, slots)
		r.shards[i].ring = make([]recentEntry, per)
	}
	return r
}

// hash returns the table's hash of key; never 0, which marks a free slot.
func (r *recentDecisions) hash(key string) uint64 {
	return maphash.String(r.seed, key) | 1
}

// shard returns the shard of a key hash.
func (r *recentDecisions) shard(h uint64) *recentShard {
	return &r.shards[h>>56]
}

func (s *recentShard) home(word uint64) int {
	return int(word>>recentPosBits) & (len(s.index) - 1)
}

// probe looks for hash h in the index: it returns the slot holding h's tag
// (found) or the free slot where h would go.
func (s *recentShard) probe(h uint64) (slot int, found bool) {
	tag := h &^ recentPosMask
	mask := len(s.index) - 1
	for i := s.home(h); ; i = (i + 1) & mask {
		w := s.index[i]
		if w == 0 {
			return i, false
		}
		if w&^recentPosMask == tag {
			return i, true
		}
	}
}

// lookupLocked returns the entry remembered under key (hash h) and the
// index slot an insertion of key must use; the caller holds s.mu and must
// not change the shard in between.
func (s *recentShard) lookupLocked(h uint64, key string) (entry recentEntry, slot int, ok bool) {
	slot, found := s.probe(h)
	if !found {
		return recentEntry{}, slot, false
	}
	e := &s.ring[s.index[slot]&recentPosMask-1]
	if e.key != key {
		return recentEntry{}, slot, false // another key with the same hash tag
	}
	return *e, slot, true
}

// insertLocked stores an attempt's outcome for key (hash h) at the index
// slot lookupLocked returned for it, taking the oldest place in the ring.
func (s *recentShard) insertLocked(slot int, h uint64, key string, at attempt, outcome schemas.ScoredEvent) {
	s.insertEntryLocked(slot, recentEntry{hash: h, key: key, attempt: at, outcome: outcome})
}

// insertEntryLocked is insertLocked of a whole entry (its hash and key set).
func (s *recentShard) insertEntryLocked(slot int, entry recentEntry) {
	h := entry.hash
	pos := s.next
	if w := s.index[slot]; w != 0 {
		// The slot belongs to a different key with the same tag, or to key
		// itself (put of a known key): that entry is forgotten now and its
		// place in the ring is left unindexed until the ring reaches it.
		s.ring[w&recentPosMask-1] = recentEntry{}
	}
	s.index[slot] = h&^recentPosMask | uint64(pos+1)
	if old := &s.ring[pos]; old.hash != 0 {
		s.deleteWord(old.hash&^recentPosMask | uint64(pos+1))
	}
	s.ring[pos] = entry
	if s.next++; int(s.next) == len(s.ring) {
		s.next = 0
	}
}

// deleteWord removes an index word, shifting back the words after it in
// its probe run (backward-shift deletion: no tombstones).
func (s *recentShard) deleteWord(word uint64) {
	mask := len(s.index) - 1
	i := s.home(word)
	for s.index[i] != word {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; s.index[j] != 0; j = (j + 1) & mask {
		// The word at j may fill the hole at i unless its home lies in
		// the cyclic range (i, j].
		if d := (s.home(s.index[j]) - i) & mask; d != 0 && d <= (j-i)&mask {
			continue
		}
		s.index[i] = s.index[j]
		i = j
	}
	s.index[i] = 0
}

// get returns the outcome remembered under key.
func (r *recentDecisions) get(key string) (schemas.ScoredEvent, bool) {
	_, outcome, ok := r.lookup(key)
	return outcome, ok
}

// lookup is get with the attempt's tenant and device.
func (r *recentDecisions) lookup(key string) (attempt, schemas.ScoredEvent, bool) {
	h := r.hash(key)
	s := r.shard(h)
	s.mu.Lock()
	e, _, ok := s.lookupLocked(h, key)
	s.mu.Unlock()
	return e.attempt, e.outcome, ok
}

// put stores an attempt's outcome under key (warm-up); a key already
// present is replaced and moves to the newest place.
func (r *recentDecisions) put(key string, at attempt, outcome schemas.ScoredEvent) {
	h := r.hash(key)
	s := r.shard(h)
	s.mu.Lock()
	_, slot, _ := s.lookupLocked(h, key)
	s.insertLocked(slot, h, key, at, outcome)
	s.mu.Unlock()
}

// putUnobserved remembers the decision d, read back from the decisions
// topic, under its event_id as an unobserved entry, unless the id is
// already remembered (its event was warmed up from history, or scored).
// It reports whether d was remembered.
func (r *recentDecisions) putUnobserved(d *schemas.Decision) bool {
	h := r.hash(d.EventID)
	s := r.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, slot, ok := s.lookupLocked(h, d.EventID)
	if ok {
		return false
	}
	s.insertEntryLocked(slot, recentEntry{hash: h, key: d.EventID, outcome: schemas.ScoredEvent{Decision: d}, unobserved: true})
	return true
}

// lastWays is the associativity of lastDecisions.
const lastWays = 8

// lastDecisions remembers the last decision about each recent key (a
// user, an IP key) for the status endpoints. It is a set-associative
// cache: a key's hash picks one bucket of lastWays entries, a put of a
// known key updates its entry in place and a new key replaces the least
// recently updated entry of its bucket. A put touches one bucket (its tags
// and ages share a cache line) and never compares key strings: a
// different key with the same 32-bit tag in the bucket is simply replaced,
// as if evicted. A get verifies the key. Memory: 32 bytes per entry
// besides the decision.
type lastDecisions struct {
	seed   maphash.Seed
	shards [recentShards]lastShard
}

type lastShard struct {
	mu      sync.Mutex
	clock   uint32 // counts puts; the age of an entry is clock - used
	buckets []lastBucket
}

type lastBucket struct {
	tags      [lastWays]uint32 // 0: free
	used      [lastWays]uint32 // clock at the entry's last put
	decisions [lastWays]*schemas.Decision
	keys      [lastWays]string
}

func newLastDecisions(capacity int) *lastDecisions {
	perShard := max(capacity/recentShards, 16)
	l := &lastDecisions{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make([]lastBucket, (perShard+lastWays-1)/lastWays)
	}
	return l
}

// locate returns the shard, bucket and tag of key.
func (l *lastDecisions) locate(key string) (*lastShard, uint32, int) {
	h := maphash.String(l.seed, key)
	s := &l.shards[h>>56]
	bucket := int(uint64(uint32(h)) * uint64(len(s.buckets)) >> 32)
	return s, uint32(h>>24) | 1, bucket
}

// put remembers d as the last decision about key.
func (l *lastDecisions) put(key string, d *schemas.Decision) {
	s, tag, bi := l.locate(key)
	s.mu.Lock()
	s.clock++
	b := &s.buckets[bi]
	way, oldest := 0, uint32(0)
	for w := range lastWays {
		if b.tags[w] == tag {
			way = w
			break
		}
		if b.tags[w] == 0 {
			way, oldest = w, ^uint32(0)
		} else if age := s.clock - b.used[w]; age > oldest {
			way, oldest = w, age
		}
	}
	b.tags[way], b.used[way], b.decisions[way], b.keys[way] = tag, s.clock, d, key
	s.mu.Unlock()
}

// get returns the last decision about key.
func (l *lastDecisions) get(key string) (*schemas.Decision, bool) {
	s, tag, bi := l.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.buckets[bi]
	for w := range lastWays {
		if b.tags[w] == tag && b.keys[w] == key {
			return b.decisions[w], true
		}
	}
	return nil, false
}
