package state

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/schemas"
)

// benchPopulation is a realistic population for BenchmarkObserve: users
// with a home address and device, attackers hitting many users.
type benchPopulation struct {
	events   []schemas.LoginEvent
	features []schemas.Features // enriched once
}

func newBenchPopulation(b *testing.B, users, ips, events int) *benchPopulation {
	e := newTestEnricher(b)
	addrs := featuretest.Addrs(b, ips)
	p := &benchPopulation{events: make([]schemas.LoginEvent, events), features: make([]schemas.Features, events)}
	for i := range p.events {
		u := (i * 7919) % users
		addr := addrs[u%ips]
		outcome := schemas.OutcomeSuccess
		if i%10 == 0 { // one in ten fails, from anywhere
			outcome = schemas.OutcomeFailure
			addr = addrs[(i*31)%ips]
		}
		ev := &p.events[i]
		*ev = schemas.LoginEvent{
			EventID: fmt.Sprint(i), OccurredAt: t0, UserID: fmt.Sprintf("user-%07d", u), Outcome: outcome,
			IP: addr.String(), Addr: addr, UserAgent: featuretest.Agents[u%len(featuretest.Agents)],
		}
		if u%2 == 0 {
			ev.DeviceID = fmt.Sprintf("dev-%07d", u)
		}
		e.Enrich(ev, &p.features[i])
	}
	return p
}

// observePopulations are BenchmarkObserve's populations: one that fits
// in the CPU caches, and a realistic one that does not (every map lookup
// and state read is then a cache miss).
var observePopulations = []struct {
	name       string
	users, ips int
}{
	{"users=1k", 1_000, 200},
	{"users=100k", 100_000, 20_000},
}

// BenchmarkObserve reads and updates the behavioural features of one
// event for users and addresses already known to the store, event time
// advancing 10 ms per event.
func BenchmarkObserve(b *testing.B) {
	for _, pop := range observePopulations {
		b.Run(pop.name, func(b *testing.B) {
			p := newBenchPopulation(b, pop.users, pop.ips, 1<<18)
			s := newTestStore(b)
			at := t0
			for i := range p.events {
				p.events[i].OccurredAt = at
				f := p.features[i]
				s.Observe(&p.events[i], &f)
				s.Learn(&p.events[i], &f) // allowed: profiles and trust exist
				at = at.Add(10 * time.Millisecond)
			}
			var f schemas.Features
			b.ReportAllocs()
			b.ResetTimer()
			cpu, n := featuretest.ProcessCPU(), 0
			for i := 0; b.Loop(); i++ {
				j := i % len(p.events)
				ev := &p.events[j]
				ev.OccurredAt = at
				f = p.features[j]
				s.Observe(ev, &f)
				at = at.Add(10 * time.Millisecond)
				n++
			}
			featuretest.ReportCPU(b, cpu, n)
		})
	}
}

// BenchmarkObserveParallel is BenchmarkObserve (100k users) from
// GOMAXPROCS goroutines, as the engine runs one per partition, sharing an
// event clock that advances 10 ms per event; for lock contention.
func BenchmarkObserveParallel(b *testing.B) {
	pop := observePopulations[len(observePopulations)-1]
	p := newBenchPopulation(b, pop.users, pop.ips, 1<<18)
	s := newTestStore(b)
	for i := range p.events {
		p.events[i].OccurredAt = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		f := p.features[i]
		s.Observe(&p.events[i], &f)
	}
	var clock atomic.Int64
	clock.Store(int64(len(p.events)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var f schemas.Features
		var ev schemas.LoginEvent
		for pb.Next() {
			tick := clock.Add(1)
			j := int(tick) % len(p.events)
			ev = p.events[j]
			ev.OccurredAt = t0.Add(time.Duration(tick) * 10 * time.Millisecond)
			f = p.features[j]
			s.Observe(&ev, &f)
		}
	})
}

// BenchmarkStoreMemory measures the heap the store holds: 1 M users (each
// a success and a failure a minute later, from one of 200 k addresses,
// half with a device_id), the same broken down per kind of key, and users
// under attack (100 failures in an hour from 100 addresses: full records,
// a spill, a full source set). It reports bytes per key; run it once:
//
//	go test ./features -run '^$' -bench StoreMemory -benchtime 1x
func BenchmarkStoreMemory(b *testing.B) {
	if testing.Short() {
		b.Skip("loads a million users")
	}
	const users, ips = 1_000_000, 200_000
	cities := []struct {
		country, city string
		lat, lon      float64
		asn           int
	}{
		{"GB", "London", 51.5, -0.13, 64601}, {"FR", "Paris", 48.86, 2.35, 64611}, {"US", "New York", 40.71, -74.0, 64631},
		{"JP", "Tokyo", 35.68, 139.65, 64641}, {"BR", "São Paulo", -23.55, -46.63, 64661}, {"IN", "Mumbai", 19.08, 72.88, 64671},
	}
	addr := func(i int) netip.Addr {
		if i%4 == 3 { // a quarter IPv6, one /64 each
			return netip.AddrFrom16([16]byte{0x2a, 0x02, 0x80, 0x10, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		}
		return netip.AddrFrom4([4]byte{81, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	// event fills the i-th event of a user: a success, then a failure.
	event := func(u, n int, ev *schemas.LoginEvent, f *schemas.Features) {
		c := cities[u%len(cities)]
		a := addr(u % ips)
		if n == 1 {
			a = addr((u*7 + 1) % ips)
		}
		*ev = schemas.LoginEvent{UserID: fmt.Sprintf("user-%07d", u), OccurredAt: t0.Add(time.Duration(u)*time.Millisecond + time.Duration(n)*time.Minute), Addr: a, Outcome: schemas.OutcomeSuccess}
		if n == 1 {
			ev.Outcome = schemas.OutcomeFailure
		}
		*f = schemas.Features{GeoKnown: true, Country: c.country, City: c.city, Latitude: c.lat, Longitude: c.lon, ASNKnown: true, ASN: c.asn, DeviceKey: "0123456789abcdef"}
		if u%2 == 0 {
			f.DeviceKey = fmt.Sprintf("device-%07d", u)
			ev.DeviceID = f.DeviceKey
		}
	}
	measure := func(name string, keys int, unit string, load func(s *Store)) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				s := newTestStore(b)
				load(s)
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				b.ReportMetric(heap/float64(keys), "B/"+unit)
				b.ReportMetric(heap/(1<<20), "MiB")
				runtime.KeepAlive(s)
			}
		})
	}
	var ev schemas.LoginEvent
	var f schemas.Features
	measure("users", users, "user", func(s *Store) {
		for u := range users {
			for n := range 2 {
				event(u, n, &ev, &f)
				o := newObservation(&ev, &f)
				s.applyUser(ev.UserID, &o, &f, true)
				s.Learn(&ev, &f) // the success was allowed: a profile and trusted contexts
			}
		}
	})
	const busy = 20_000
	measure("busy-users", busy, "user", func(s *Store) {
		for n := range 100 { // 100 failures in an hour, each from another address
			for u := range busy {
				event(u, 1, &ev, &f)
				ev.OccurredAt = t0.Add(time.Duration(n) * 36 * time.Second)
				ev.Addr = addr(u + n*busy)
				o := newObservation(&ev, &f)
				s.applyUser(ev.UserID, &o, &f, true)
				s.Learn(&ev, &f) // the success was allowed: a profile and trusted contexts
			}
		}
	})
	// Users with two failures a minute apart through Observe, without and
	// with a password_fp (each a password of its own): the difference is
	// the fingerprint memory a user keeps (and the userExtra holding it)
	// and two entries in the global table of fingerprints.
	for _, withFP := range []bool{false, true} {
		name := "failures"
		if withFP {
			name = "password-failures"
		}
		measure(name, busy, "user", func(s *Store) {
			for n := range 2 {
				for u := range busy {
					event(u, 1, &ev, &f)
					ev.OccurredAt = t0.Add(time.Duration(n) * time.Minute)
					if withFP {
						ev.PasswordFP = fingerprint(u*2 + n)
					}
					s.Observe(&ev, &f)
				}
			}
		})
	}
	measure("ips", ips, "ip", func(s *Store) {
		for i := range 5 * ips { // five attempts by five users per address
			event(i, i%2, &ev, &f)
			ev.Addr = addr(i % ips)
			o := newObservation(&ev, &f)
			s.applyIP(&o, &f, true)
		}
	})
	measure("crowd-addresses", ips, "ip", func(s *Store) {
		for i := range 5 * ips { // five attempts by five users per address: its day, /24 and ASN
			event(i, i%2, &ev, &f)
			ev.Addr = addr(i % ips)
			o := newObservation(&ev, &f)
			s.applyCrowds(&ev, &o, &f, true)
		}
	})
	measure("crowd-failing-users", busy, "user", func(s *Store) {
		for n := range 4 { // four failures in a day from one address: the account's week and its network's day
			for u := range busy {
				event(u, 1, &ev, &f)
				ev.OccurredAt = t0.Add(time.Duration(n) * time.Hour)
				ev.Addr = addr(u % 8) // few addresses: the accounts' own state is measured
				f.UserFailures24h = n + 1
				o := newObservation(&ev, &f)
				s.applyCrowds(&ev, &o, &f, true)
			}
		}
	})
	measure("devices", users/2, "device", func(s *Store) {
		for u := 0; u < users; u += 2 { // the users with a device_id
			event(u, 0, &ev, &f)
			o := newObservation(&ev, &f)
			s.applyDevice(f.DeviceKey, &o, &f, true)
		}
	})
	measure("all", users, "user", func(s *Store) {
		for u := range users {
			for n := range 2 {
				event(u, n, &ev, &f)
				s.Observe(&ev, &f)
				s.Learn(&ev, &f) // allowed: profiles and trust exist
			}
		}
		if st := s.Stats(); st.Keys[Users] != users || st.Keys[Addresses]+st.Keys[Networks] != ips {
			b.Fatalf("stats %+v", st)
		}
	})
}

// BenchmarkCalibration measures the machine rather than this package, to
// read the figures above: a dependent random load over 64 MiB (memory
// latency) and a Go map lookup among 100k keys, which Observe does three
// of on a large population.
func BenchmarkCalibration(b *testing.B) {
	b.Run("random-load-64MiB", func(b *testing.B) {
		const n = 8 << 20
		next := make([]uint32, n)
		for i := range next { // one cycle through a fixed permutation
			next[i] = uint32((uint64(i)*0x9E3779B1 + 12345) % n)
		}
		j := uint32(0)
		for b.Loop() {
			j = next[j]
		}
		runtime.KeepAlive(j)
	})
	b.Run("map-lookup-100k", func(b *testing.B) {
		const n = 100_000
		m := make(map[string]*userState, n)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("user-%07d", i)
			m[keys[i]] = new(userState)
		}
		hits := 0
		for i := 0; b.Loop(); i++ {
			if m[keys[(i*7919)%n]] != nil {
				hits++
			}
		}
		runtime.KeepAlive(hits)
	})
}
