package state

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// The password fingerprint's state (password_fp, docs/security.md): per
// user, the fingerprints of the last failed password checks; globally, the
// users who failed with each fingerprint in the last hour. Both hold the
// first 8 bytes of a fingerprint, in memory only: the store never writes
// them anywhere, and they go with their user or after an idle hour.

// maxPasswordRecords bounds the fingerprints a user keeps: distinct
// passwords per user count up to it.
const maxPasswordRecords = 16

// passwordMemory holds the fingerprints of a user's last failed password
// checks, one record per fingerprint and network (/24 or /64), with the
// time it was last tried from there.
type passwordMemory struct {
	records [maxPasswordRecords]passwordRecord
	n       uint8
}

type passwordRecord struct {
	fp      uint64
	network uint32 // the tag's network bits (makeTag)
	last    uint32
}

// repeated reports whether fp was tried from network within a day of at:
// the same wrong password retried from the same place.
func (m *passwordMemory) repeated(fp uint64, network, at uint32) bool {
	if m == nil {
		return false
	}
	for _, r := range m.records[:m.n] {
		if r.fp == fp && r.network == network && absDiff(r.last, at) < day {
			return true
		}
	}
	return false
}

// distinct counts, for each span, the distinct fingerprints tried in
// (at-span, at], and current (when hasCurrent) whether or not it is kept.
func (m *passwordMemory) distinct(at uint32, spans [2]uint32, current uint64, hasCurrent bool) (n [2]int) {
	var seen [maxPasswordRecords + 1]uint64
	for j, span := range spans {
		k := 0
		if hasCurrent {
			seen[0], k = current, 1
		}
		if m != nil {
			for _, r := range m.records[:m.n] {
				if r.last > at || int64(r.last) <= int64(at)-int64(span) {
					continue
				}
				dup := false
				for _, s := range seen[:k] {
					dup = dup || s == r.fp
				}
				if !dup {
					seen[k], k = r.fp, k+1
				}
			}
		}
		n[j] = min(k, maxPasswordRecords) // the documented bound, with current or not
	}
	return n
}

// add records fp as tried from network at at; a new record takes the
// place of the least recently tried when the memory is full.
func (m *passwordMemory) add(fp uint64, network, at uint32) {
	oldest := 0
	for i := range m.records[:m.n] {
		r := &m.records[i]
		if r.fp == fp && r.network == network {
			r.last = max(r.last, at)
			return
		}
		if r.last < m.records[oldest].last {
			oldest = i
		}
	}
	if int(m.n) < maxPasswordRecords {
		oldest = int(m.n)
		m.n++
	}
	m.records[oldest] = passwordRecord{fp: fp, network: network, last: at}
}

// compact drops the records older than a day at now and reports whether
// none is left.
func (m *passwordMemory) compact(now uint32) (empty bool) {
	kept := m.records[:0]
	for _, r := range m.records[:m.n] {
		if int64(r.last) > int64(now)-int64(day) {
			kept = append(kept, r)
		}
	}
	m.n = uint8(len(kept))
	return m.n == 0
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// Bounds of the global fingerprint table.
const (
	// DefaultMaxPasswords caps the fingerprints the store follows across
	// users: far more than the distinct wrong passwords of an hour on a
	// large site (a typo each for a few per cent of a million users a
	// day). At the cap a new fingerprint takes the place of one only one
	// user failed with, the least recently tried of a sample, since such
	// a fingerprint says nothing about a spray; when the sample has none,
	// the new one is not followed (StoreStats.PasswordsRefused).
	DefaultMaxPasswords = 1 << 18
	passwordShards      = 256
	passwordRetention   = hour + 10*minute
	passwordEvictSample = 8
)

// passwordTable is the global table of fingerprints: the users who
// failed with each in the last hour. Its shards are maps under their own
// locks, placed by a seeded hash (a fingerprint is keyed by the gateway,
// but the placement must not depend on that).
type passwordTable struct {
	seed     maphash.Seed
	perShard int
	shards   [passwordShards]struct {
		mu sync.Mutex
		m  map[uint64]*passwordUsers
	}
	held, refused atomic.Int64
}

// passwordUsers is one fingerprint's users.
type passwordUsers struct {
	users    recentSet
	lastSeen uint32
}

func newPasswordTable(limit int) *passwordTable {
	return &passwordTable{seed: maphash.MakeSeed(), perShard: max(limit/passwordShards, 1)}
}

// apply reads the distinct users that failed with fp in the last hour.
// For a failure (failed) the attempt's user (userKey) is one of them, and
// the attempt is recorded when record is set; a success (the account's
// right password) is only read, never recorded.
func (t *passwordTable) apply(fp uint64, userKey, at uint32, failed, record bool) int {
	sh := &t.shards[maphash.Comparable(t.seed, fp)%passwordShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.m[fp]
	if !failed {
		if st == nil {
			return 0
		}
		return st.users.distinct(at, hour)
	}
	if st == nil {
		if !record || !t.makeRoom(sh.m, at) {
			return 1
		}
		if sh.m == nil {
			sh.m = make(map[uint64]*passwordUsers)
		}
		st = new(passwordUsers)
		sh.m[fp] = st
		t.held.Add(1)
	}
	n, i := st.users.count(at, [2]uint32{hour}, userKey)
	if record {
		st.users.addAt(i, userKey, at, hour, maxSourcesPerKey)
		st.lastSeen = max(st.lastSeen, at)
	}
	return n[0]
}

// makeRoom reports whether a shard's map m may take a new fingerprint at
// at, deleting one tried by a single user to make room when it is full.
func (t *passwordTable) makeRoom(m map[uint64]*passwordUsers, at uint32) bool {
	if len(m) < t.perShard {
		return true
	}
	victim, found, seen := uint64(0), false, 0
	var oldest uint32
	for fp, st := range m { // map order is random: a sample
		if st.users.distinct(at, hour) <= 1 && (!found || st.lastSeen < oldest) {
			victim, oldest, found = fp, st.lastSeen, true
		}
		if seen++; seen == passwordEvictSample {
			break
		}
	}
	if !found {
		t.refused.Add(1)
		return false
	}
	delete(m, victim)
	t.held.Add(-1)
	return true
}

// sweep drops the fingerprints idle at now.
func (t *passwordTable) sweep(now uint32) (removed int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for fp, st := range sh.m {
			if int64(st.lastSeen) <= int64(now)-int64(passwordRetention) {
				delete(sh.m, fp)
				removed++
				continue
			}
			st.users.compact(now, hour)
		}
		sh.mu.Unlock()
	}
	t.held.Add(-int64(removed))
	return removed
}
