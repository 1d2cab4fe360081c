package state

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// The attacks of issue 16 on the state store: user ids crafted to collide
// under the store's old placement (hash flooding), and floods of unique
// keys (memory).

// oldPlacementHash is the hash the store placed keys by before they were
// placed by a per-process seed: hashString as it was (words of eight
// bytes, little-endian; the padded last word; the splitmix64 finaliser).
// It is kept here only to craft colliding ids, as an attacker would.
func oldPlacementHash(s string) uint64 {
	const k = 0x9e3779b97f4a7c15
	h := uint64(len(s)) * k
	for len(s) >= 8 {
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64([]byte(s[:8])))*k, 31)
		s = s[8:]
	}
	if len(s) > 0 {
		var w [8]byte
		copy(w[:], s)
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(w[:]))*k, 31)
	}
	return keyhash.Mix64(h)
}

// collidingUserIDs returns n distinct printable 16-byte user ids with one
// and the same oldPlacementHash: the old placement put them all in one
// shard, probing from one slot. Every step of the old hash is
// invertible, so for any first word the second word that brings the
// state to a chosen value is computed, not searched; only its being
// printable is left to chance (about one first word in 3,000).
func collidingUserIDs(n int) []string {
	k := uint64(0x9e3779b97f4a7c15)
	kInverse := k // Newton's iteration: k*kInverse = 1 mod 2^64
	for range 6 {
		kInverse *= 2 - k*kInverse
	}
	const target = 0x1234_5678_9abc_def0 // the state after the second word
	want := bits.RotateLeft64(target, -31) * kInverse
	printable := func(w uint64) bool {
		for range 8 {
			if c := byte(w); c < '!' || c > '~' {
				return false
			}
			w >>= 8
		}
		return true
	}
	var pow94 [8]uint64
	for j, p := 0, uint64(1); j < 8; j, p = j+1, p*94 {
		pow94[j] = p
	}
	ids := make([]string, 0, n)
	var b [16]byte
	for i := uint64(0); len(ids) < n; i++ {
		for j := range 8 { // i in base 94, printable
			b[j] = '!' + byte(i/pow94[j]%94)
		}
		h := bits.RotateLeft64((16*k^binary.LittleEndian.Uint64(b[:8]))*k, 31)
		second := h ^ want
		if !printable(second) {
			continue
		}
		binary.LittleEndian.PutUint64(b[8:], second)
		ids = append(ids, string(b[:]))
	}
	return ids
}

// probeStats reports the users table's largest shard and the mean number
// of slots a lookup of a held key visits (its distance from its home
// slot plus one): the work of every later event of that key.
func (t *table[K, V]) probeStats() (largestShard int, meanProbe float64) {
	var probes, keys int
	for i := range t.shards {
		sh := &t.shards[i]
		largestShard = max(largestShard, sh.live)
		for _, slots := range [][]tableSlot[K, V]{sh.slots, sh.old} {
			mask := len(slots) - 1
			for j, s := range slots {
				if s.v != nil {
					probes += (j-slotOf(s.hash, mask))&mask + 1
					keys++
				}
			}
		}
	}
	return largestShard, float64(probes) / float64(keys)
}

// TestCollidingUserIDsStayFlat: user ids crafted to share one hash under
// the old placement spread over the shards, and a lookup of each visits
// a few slots, as for any ids. Under the old placement they were all in
// one shard, a lookup visiting half of them on average (about 2,000
// slots here): each event of the flood cost O(n) under one lock.
func TestCollidingUserIDsStayFlat(t *testing.T) {
	const n = 4096
	ids := collidingUserIDs(n)
	for _, id := range ids[1:] {
		if oldPlacementHash(id) != oldPlacementHash(ids[0]) {
			t.Fatalf("%q does not collide with %q under the old hash", id, ids[0])
		}
	}
	s := newTestStore(t)
	var f schemas.Features
	for i, id := range ids {
		ev := schemas.LoginEvent{UserID: id, OccurredAt: t0.Add(time.Duration(i) * time.Millisecond), Addr: netip.MustParseAddr(hostingV4), Outcome: schemas.OutcomeFailure}
		f = schemas.Features{}
		s.Observe(&ev, &f)
	}
	if got := s.Stats().Keys[Users]; got != n {
		t.Errorf("%d users held, want %d", got, n)
	}
	largest, meanProbe := s.users.probeStats()
	// 16 keys a shard on average; the largest of 256 binomial counts is
	// about 30. Linear probing at the 7/8 load a shard grows at visits
	// 4.5 slots on average for a held key.
	if mean := n / DefaultShards; largest > 4*mean {
		t.Errorf("the largest shard holds %d of %d colliding users (%d a shard on average)", largest, n, mean)
	}
	if meanProbe > 5 {
		t.Errorf("a lookup of a colliding user visits %.1f slots on average, want at most 5", meanProbe)
	}
	t.Logf("largest shard %d users, mean probe %.2f slots", largest, meanProbe)
}

// BenchmarkObserveColliding observes failures of users already held
// whose ids collide under the old placement, and of as many random ids
// (their count is the sub-benchmark's n): the cost per event is the same.
func BenchmarkObserveColliding(b *testing.B) {
	const n = 20_000
	random := make([]string, n)
	for i := range random {
		random[i] = fmt.Sprintf("%016x", keyhash.Mix64(uint64(i)))
	}
	for _, tt := range []struct {
		name string
		ids  []string
	}{{"colliding", collidingUserIDs(n)}, {"random", random}} {
		b.Run(fmt.Sprintf("%s/n=%d", tt.name, n), func(b *testing.B) {
			s := newTestStore(b)
			ev := schemas.LoginEvent{Addr: netip.MustParseAddr(hostingV4), Outcome: schemas.OutcomeFailure}
			var f schemas.Features
			at := t0
			observe := func(i int) {
				ev.UserID, ev.OccurredAt = tt.ids[i%n], at
				f = schemas.Features{}
				s.Observe(&ev, &f)
				at = at.Add(10 * time.Millisecond)
			}
			for i := range n {
				observe(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				observe(i)
			}
		})
	}
}

// newCappedStore returns a store of one shard (so that an eviction
// compares every key) with the given caps.
func newCappedStore(t testing.TB, users, addresses, networks, devices int) *Store {
	t.Helper()
	s, err := NewStore(StoreConfig{Shards: 1, MaxUsers: users, MaxAddresses: addresses, MaxNetworks: networks, MaxDevices: devices})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// observeAt records one attempt without enrichment, as the engine does
// an attempt it allows (a success teaches: Learn), and returns its
// features.
func observeAt(s *Store, user, ip, device string, ok bool, at time.Time) schemas.Features {
	ev := schemas.LoginEvent{UserID: user, OccurredAt: at, Addr: netip.MustParseAddr(ip), Outcome: schemas.OutcomeFailure}
	if ok {
		ev.Outcome = schemas.OutcomeSuccess
	}
	f := schemas.Features{DeviceKey: device}
	s.Observe(&ev, &f)
	s.Learn(&ev, &f)
	return f
}

// TestCapEvictsLeastRecentlySeen: at the cap on users, a new user takes
// the place of the user seen least recently; users seen again since are
// kept, with their profiles.
func TestCapEvictsLeastRecentlySeen(t *testing.T) {
	s := newCappedStore(t, 8, 100, 100, 100)
	for i := range 8 {
		observeAt(s, fmt.Sprintf("u%d", i), londonV4, "", true, t0.Add(time.Duration(i)*time.Minute))
	}
	for i := range 4 { // u0-u3 come back: u4-u7 are now the least recently seen
		observeAt(s, fmt.Sprintf("u%d", i), londonV4, "", true, t0.Add(time.Hour+time.Duration(i)*time.Minute))
	}
	for i := range 4 {
		observeAt(s, fmt.Sprintf("new%d", i), londonV4, "", true, t0.Add(2*time.Hour+time.Duration(i)*time.Minute))
	}
	st := s.Stats()
	if st.Keys[Users] != 8 || st.Evicted[Users] != 4 || st.Refused[Users] != 0 || st.Profiles != 8 {
		t.Fatalf("stats %+v, want 8 users and profiles, 4 evicted", st)
	}
	for i := range 8 {
		var f schemas.Features
		ev := schemas.LoginEvent{UserID: fmt.Sprintf("u%d", i), OccurredAt: t0.Add(3 * time.Hour), Addr: netip.MustParseAddr(londonV4), Outcome: schemas.OutcomeSuccess}
		s.Peek(&ev, &f)
		if kept := i < 4; f.UserKnown != kept {
			t.Errorf("u%d: known %v, want %v (u0-u3 were seen again, u4-u7 not)", i, f.UserKnown, kept)
		}
	}
}

// TestCapKeepsKeysWithRecentFailures: a user with a failure in the last
// 24 h, or an address with one in the last hour, is never evicted, even
// when it is the least recently seen; when every key has one, the new key
// is refused: scored against empty state, not recorded, and counted.
func TestCapKeepsKeysWithRecentFailures(t *testing.T) {
	s := newCappedStore(t, 4, 2, 100, 100)
	// The victim is under a slow brute force: the least recently seen
	// user, with failures.
	for i := range 3 {
		observeAt(s, "victim", parisV4, "", false, t0.Add(time.Duration(i)*time.Minute))
	}
	observeAt(s, "quiet", londonV4, "", true, t0.Add(time.Hour))
	for i := range 3 { // a flood of new failing users: quiet makes room, then they are refused
		observeAt(s, fmt.Sprintf("flood%d", i), londonV4, "", false, t0.Add(2*time.Hour+time.Duration(i)*time.Minute))
	}
	st := s.Stats()
	if st.Keys[Users] != 4 || st.Evicted[Users] != 1 || st.Refused[Users] != 0 {
		t.Fatalf("after the first flood: stats %+v, want 4 users, 1 evicted (quiet)", st)
	}
	f := observeAt(s, "flood3", londonV4, "", false, t0.Add(3*time.Hour))
	g := observeAt(s, "flood3", londonV4, "", false, t0.Add(3*time.Hour+time.Second))
	if st := s.Stats(); st.Refused[Users] != 2 || st.Keys[Users] != 4 {
		t.Errorf("stats %+v, want 2 refused", st)
	}
	if f.UserFailures24h != 1 || g.UserFailures24h != 1 || g.UserConsecutiveFailures != 1 {
		t.Errorf("a refused user is scored as a first attempt each time: failures 24h %d then %d, consecutive %d", f.UserFailures24h, g.UserFailures24h, g.UserConsecutiveFailures)
	}
	if f := observeAt(s, "victim", parisV4, "", false, t0.Add(4*time.Hour)); f.UserFailures24h != 4 || f.UserConsecutiveFailures != 4 {
		t.Errorf("the victim's failures after the flood: 24h %d consecutive %d, want 4 and 4", f.UserFailures24h, f.UserConsecutiveFailures)
	}
	// A day later the failures no longer protect: the least recently
	// seen user (the first flood user) makes room.
	observeAt(s, "tomorrow", londonV4, "", true, t0.Add(26*time.Hour+time.Minute))
	if st := s.Stats(); st.Evicted[Users] != 2 || st.Refused[Users] != 2 {
		t.Errorf("a day later: stats %+v, want 2 evicted", st)
	}

	// Addresses: the address with failures in the last hour stays.
	if st := s.Stats(); st.Keys[Addresses] != 2 || st.Evicted[Addresses] != 0 {
		t.Fatalf("addresses: stats %+v, want paris and london", st)
	}
	// Both idle for an hour: london, the least recently seen, goes.
	observeAt(s, "victim", tokyoV4, "", false, t0.Add(26*time.Hour+2*time.Minute))
	if st := s.Stats(); st.Keys[Addresses] != 2 || st.Evicted[Addresses] != 1 {
		t.Errorf("addresses: stats %+v, want 1 evicted", st)
	}
	// Then paris, whose failures are a day old; then tokyo and sf, which
	// failed minutes ago, both stay and paris is refused.
	observeAt(s, "victim", sfV4, "", false, t0.Add(26*time.Hour+3*time.Minute))
	observeAt(s, "victim", parisV4, "", false, t0.Add(26*time.Hour+4*time.Minute))
	if st := s.Stats(); st.Refused[Addresses] != 1 || st.Evicted[Addresses] != 2 {
		t.Errorf("addresses: stats %+v, want london and paris evicted, then paris refused", st)
	}
}

// TestCapsAreSeparatePerKind: a flood of IPv6 /64s, which are cheap to
// rotate, evicts networks only, never the IPv4 addresses; devices go by
// last use whatever their users did.
func TestCapsAreSeparatePerKind(t *testing.T) {
	s := newCappedStore(t, 100, 2, 2, 2)
	observeAt(s, "alice", londonV4, "phone", false, t0)
	for i := range 10 {
		ip := fmt.Sprintf("2001:db8:%x::1", i)
		observeAt(s, "alice", ip, fmt.Sprintf("bot%d", i), true, t0.Add(2*time.Hour+time.Duration(i)*time.Second))
	}
	st := s.Stats()
	want := KeyCounts{Users: 1, Addresses: 1, Networks: 2, Devices: 2}
	if st.Keys != want || st.Evicted[Networks] != 8 || st.Evicted[Devices] != 9 || st.Evicted[Addresses] != 0 {
		t.Errorf("stats %+v, want keys %v, 8 networks and 9 devices evicted", st, want)
	}
}

// TestFloodOfUniqueKeysIsCapped is the memory attack of issue 16: failures
// with unique user ids from unique addresses. The store holds no more
// keys than its caps, and the victim's counters survive the flood.
func TestFloodOfUniqueKeysIsCapped(t *testing.T) {
	const users, addresses = 512, 256
	s, err := NewStore(StoreConfig{Shards: 16, MaxUsers: users, MaxAddresses: addresses})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		observeAt(s, "victim", parisV4, "", false, t0.Add(time.Duration(i)*time.Second))
	}
	for i := range 20_000 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		observeAt(s, fmt.Sprintf("flood-%06d-%s", i, ip), ip, "", false, t0.Add(time.Minute+time.Duration(i)*time.Second))
	}
	st := s.Stats()
	if st.Keys[Users] > users || st.Keys[Addresses] > addresses {
		t.Errorf("after the flood the store holds %d users and %d addresses, caps %d and %d", st.Keys[Users], st.Keys[Addresses], users, addresses)
	}
	if st.Refused[Users] == 0 || st.Evicted[Addresses] == 0 {
		t.Errorf("stats %+v: users with failures are refused, addresses idle for an hour evicted", st)
	}
	// The crowd counts beside the addresses and networks are capped by the
	// same settings: 256 addresses, plus the /24s the flood's 20 000
	// addresses and the victim's fall in (under 100).
	if maxCrowds := int64(addresses + 100); st.Crowds > maxCrowds || st.CrowdsRefused == 0 {
		t.Errorf("after the flood the crowd state holds %d keys (refused %d), want at most %d and some refused", st.Crowds, st.CrowdsRefused, maxCrowds)
	}
	if f := observeAt(s, "victim", parisV4, "", false, t0.Add(20_001*time.Second)); f.UserFailures24h != 6 {
		t.Errorf("the victim's failures in the last 24 h after the flood: %d, want 6", f.UserFailures24h)
	}
	t.Logf("stats %+v", st)
}

// Bytes a key held at a cap takes in BenchmarkStoreFlood's flood, in use
// on the Go heap (docs/features-performance.md, "Caps"): a user with one
// failure and a 256-byte id, an address with one failure, each with its
// share of the table and of the holes evicted keys leave in the heap's
// spans. The benchmark fails when the heap in use exceeds the caps times
// these.
// An address also holds its crowd counts (crowd.go: the users that
// failed and succeeded from it over a day and a week), capped like the
// addresses themselves.
const (
	floodBytesPerUser         = 640
	floodBytesPerAddress      = 380
	floodBytesPerCrowdAddress = 420
)

// BenchmarkStoreFlood is the memory attack of issue 16 against capped
// state: a million failures, each with a unique 256-byte user id from a
// unique IPv4 address, 100 ms apart in event time (28 hours), against
// caps of 250,000 users and addresses. It reports the keys held, the Go
// heap in use and the process's resident set after the flood, and the
// bound (the caps times the documented bytes per key); run it once:
//
//	go test ./features -run '^$' -bench StoreFlood -benchtime 1x
func BenchmarkStoreFlood(b *testing.B) {
	if testing.Short() {
		b.Skip("a million events")
	}
	const events, maxUsers, maxAddresses = 1_000_000, 250_000, 250_000
	bound := float64(maxUsers*floodBytesPerUser + maxAddresses*(floodBytesPerAddress+floodBytesPerCrowdAddress))
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rssBefore, rssOK := residentBytes()
		s, err := NewStore(StoreConfig{MaxUsers: maxUsers, MaxAddresses: maxAddresses})
		if err != nil {
			b.Fatal(err)
		}
		id := []byte(strings.Repeat("x", 256))
		ev := schemas.LoginEvent{Outcome: schemas.OutcomeFailure}
		var f schemas.Features
		for i := range events {
			binary.BigEndian.PutUint64(id, uint64(i))  // unique, the rest of the 256 bytes fixed
			ev.UserID = unsafe.String(&id[0], len(id)) // the store keeps a copy
			ev.Addr = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			ev.OccurredAt = t0.Add(time.Duration(i) * 100 * time.Millisecond)
			f = schemas.Features{}
			s.Observe(&ev, &f)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := s.Stats()
		heap := float64(after.HeapInuse) - float64(before.HeapInuse)
		b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/(1<<20), "alloc-MiB")
		b.ReportMetric(float64(st.Keys[Users]), "users")
		b.ReportMetric(float64(st.Keys[Addresses]), "addresses")
		b.ReportMetric(float64(st.Evicted[Users]), "users-evicted")
		b.ReportMetric(float64(st.Refused[Users]), "users-refused")
		b.ReportMetric(float64(st.Evicted[Addresses]), "addresses-evicted")
		b.ReportMetric(heap/(1<<20), "heap-MiB")
		b.ReportMetric(bound/(1<<20), "bound-MiB")
		if rss, ok := residentBytes(); ok && rssOK {
			b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
			// The resident set grows by the heap and the runtime's
			// headroom (GOGC=100): docs/features-performance.md says to
			// budget twice the bound.
			if grown := float64(rss) - float64(rssBefore); grown > 2*bound {
				b.Errorf("the resident set grew by %.0f MiB, over twice the bound (%.0f MiB)", grown/(1<<20), 2*bound/(1<<20))
			}
		}
		if heap > bound {
			b.Errorf("the store takes %.0f MiB of heap, over the bound of %.0f MiB", heap/(1<<20), bound/(1<<20))
		}
		runtime.KeepAlive(s)
	}
}

// residentBytes is the process's resident set (VmRSS), where /proc has it.
func residentBytes() (int64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// fillShard puts keys 0..n-1 in a one-shard table, each after makeRoom,
// and calls after(i) after each put.
func fillShard(t *testing.T, tab *table[int, int], n int, after func(i int)) {
	t.Helper()
	sh := &tab.shards[0]
	for i := range n {
		h := keyhash.Mix64(uint64(i)) | placedBit
		if _, ok := tab.makeRoom(sh, nil); !ok {
			t.Fatalf("no room for key %d", i)
		}
		sh.put(h, i, new(int))
		after(i)
	}
}

// TestShardMovesAStepAtATime: a shard that outgrows its slots moves to a
// new array moveStep slots per put, not all at once, and every key is
// found while it moves.
func TestShardMovesAStepAtATime(t *testing.T) {
	tab := newTable[int, int](1, 1<<20)
	sh := &tab.shards[0]
	moves, puts, maxPuts := 0, 0, 0
	fillShard(t, tab, 20_000, func(i int) {
		if sh.old == nil {
			if puts > 0 {
				maxPuts = max(maxPuts, puts)
			}
			puts = 0
			return
		}
		if puts == 0 {
			moves++
			if sh.moved > moveStep {
				t.Fatalf("key %d started a move of %d slots and moved %d at once, want at most %d", i, len(sh.old), sh.moved, moveStep)
			}
		}
		puts++
		if i%97 == 0 {
			for k := 0; k <= i; k += 13 {
				if sh.get(keyhash.Mix64(uint64(k))|placedBit, k) == nil {
					t.Fatalf("key %d not found while the shard moves (%d of %d slots moved)", k, sh.moved, len(sh.old))
				}
			}
		}
	})
	if moves < 5 || maxPuts < 2 {
		t.Errorf("%d moves, the longest over %d puts: want moves spread over puts", moves, maxPuts)
	}
}

// TestSweepReleasesTheLock: a sweep of a shard larger than sweepStep
// slots lets another goroutine take the shard's lock before it is done,
// where a sweep holding the lock for the whole shard would not.
func TestSweepReleasesTheLock(t *testing.T) {
	tab := newTable[int, int](1, 1<<20)
	sh := &tab.shards[0]
	fillShard(t, tab, 4000, func(int) {})
	for sh.old != nil { // finish the last move, so the sweep starts scanning at once
		sh.step(moveStep)
	}
	var visited, visitedWhenLocked atomic.Int64
	visitedWhenLocked.Store(-1)
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-started
		sh.mu.Lock()
		visitedWhenLocked.Store(visited.Load())
		sh.mu.Unlock()
	}()
	tab.sweep(func(*int) bool {
		if visited.Add(1) == 1 {
			close(started)
		}
		// Work for 5 µs, so that a hold of sweepStep values outlasts the
		// millisecond after which a waiter is served first (sync.Mutex).
		for start := time.Now(); time.Since(start) < 5*time.Microsecond; {
		}
		return false
	})
	<-done
	if got, total := visitedWhenLocked.Load(), visited.Load(); got < 0 || got >= total {
		t.Errorf("the other goroutine got the lock after %d of %d values were swept, want before the end", got, total)
	}
}

// The crowd table's sweep holds a shard's lock for a bounded number of
// keys: its keys are in the store's sharded tables (table.go), whose
// sweep visits sweepStep slots per hold of a lock (TestSweepReleasesTheLock),
// so a flood of unique addresses makes no lock hold grow with it; and a
// sweep a day later frees every key of the flood.
func TestCrowdSweepHoldsFewKeysPerLock(t *testing.T) {
	const n = 200_000
	s, err := NewStore(StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		observeAt(s, fmt.Sprintf("u%06d", i), ip, "", false, t0.Add(time.Duration(i)*time.Millisecond))
	}
	addresses := s.crowds.kinds[crowdAddress]
	if total := addresses.len(); total < n {
		t.Fatalf("the flood made %d crowd keys of addresses, want at least %d", total, n)
	}
	largest := 0
	for i := range addresses.shards {
		largest = max(largest, addresses.shards[i].live)
	}
	if largest <= sweepStep {
		t.Fatalf("the largest crowd shard holds %d keys: too few for this test to show a bounded hold", largest)
	}
	removed := s.Sweep(t0.Add(n*time.Millisecond + crowdShortRetention*time.Second + time.Hour))
	if left := addresses.len(); left != 0 || removed < n {
		t.Errorf("a sweep after a day idle removed %d keys and left %d crowds of addresses, want all gone", removed, left)
	}
}

// TestCrowdCapEvictsOnlyWithoutRecentFailures: at the cap of crowds of
// addresses (max_addresses), a new address is refused while every crowd
// has a failure in the last hour (crowdProtect), their counts kept; once
// the failures are older, it takes the place of the crowd seen least
// recently, and the others keep their 24-hour counts.
func TestCrowdCapEvictsOnlyWithoutRecentFailures(t *testing.T) {
	const limit = 8
	s, err := NewStore(StoreConfig{Shards: 1, MaxAddresses: limit})
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i int) string { return netip.AddrFrom4([4]byte{10, 0, byte(i), 1}).String() }
	for i := range limit {
		observeAt(s, fmt.Sprintf("u%d", i), addr(i), "", false, t0.Add(time.Duration(i)*time.Second))
	}
	observeAt(s, "newcomer", addr(100), "", true, t0.Add(30*time.Minute))
	if st := s.Stats(); st.CrowdsEvicted != 0 || st.CrowdsRefused == 0 {
		t.Errorf("within the hour of every crowd's failure: %d crowds evicted, %d refused; want none evicted and the new one refused", st.CrowdsEvicted, st.CrowdsRefused)
	}
	if f := observeAt(s, "u0", addr(0), "", false, t0.Add(31*time.Minute)); f.IPFailures24h != 2 {
		t.Errorf("the first address's failures in 24 h after the refusal: %d, want 2", f.IPFailures24h)
	}
	// Two hours on, no crowd has a failure in the hour: the new address
	// takes the place of addr(1), seen least recently (addr(0) was seen
	// again at 31 minutes).
	observeAt(s, "newcomer", addr(200), "", true, t0.Add(2*time.Hour))
	if st, held := s.Stats(), s.crowds.kinds[crowdAddress].len(); st.CrowdsEvicted != 1 || held != limit {
		t.Errorf("two hours on: %d crowds evicted (want 1), %d crowds of addresses held (want %d)", st.CrowdsEvicted, held, limit)
	}
	if f := observeAt(s, "u0", addr(0), "", false, t0.Add(2*time.Hour+time.Second)); f.IPFailures24h != 3 {
		t.Errorf("the address seen again keeps its counts: %d failures in 24 h, want 3", f.IPFailures24h)
	}
	if f := observeAt(s, "u1", addr(1), "", false, t0.Add(2*time.Hour+2*time.Second)); f.IPFailures24h != 1 {
		t.Errorf("the evicted address's failures in 24 h: %d, want 1 (counted afresh)", f.IPFailures24h)
	}
}
