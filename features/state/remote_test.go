package state

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestObserveAddressAcrossStores splits a credential-stuffing run over
// three stores, as three instances split users by partition: each
// scores its own users' attempts and counts the others' through their
// encoded address side (AddressAttempt, the wire batch,
// ObserveAddress). Every attempt must read the features one store that
// saw everything reads, address, network and ASN counts included (all
// but the familiarity model's, which compares the user with its store's
// population), and no store may learn anything about another's users.
func TestObserveAddressAcrossStores(t *testing.T) {
	enricher := newTestEnricher(t)
	newStore := func() *Store {
		s, err := NewStore(StoreConfig{Shards: 16, MaxUsers: 1 << 10, MaxAddresses: 1 << 10, MaxNetworks: 1 << 10, MaxDevices: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, ip := range []string{"45.33.4.10", "2a0e:97c0:1a::10"} { // a hosting network: its ASN is kept too
		t.Run(ip, func(t *testing.T) {
			reference := newStore()
			stores := []*Store{newStore(), newStore(), newStore()}
			const users = 12
			for i := range 60 {
				user := fmt.Sprintf("victim-%d@example.com", i%users)
				ev := testEvent(t, user, ip, i%7 == 6, t0.Add(time.Duration(i)*20*time.Second))
				ev.DeviceID = "device-of-" + user
				if i%3 == 1 {
					ev.FailureReason = unknownUserReason
				}
				if i%5 == 0 {
					ev.TenantID = "acme"
				}
				var want, got schemas.Features
				enricher.Enrich(ev, &want)
				enricher.Enrich(ev, &got)
				reference.Observe(ev, &want)
				own := (i % users) % len(stores) // a user's attempts go to one store
				stores[own].Observe(ev, &got)
				// The familiarity model compares the user with the
				// population of its own store's users: not shared
				// (docs/scaling.md), and not what this test is about.
				withoutPopulation(&got)
				withoutPopulation(&want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("attempt %d on store %d:\n got %+v\nwant %+v", i, own, got, want)
				}
				if ev.Success() { // allowed: it teaches the profile and its device
					reference.Learn(ev, &want)
					stores[own].Learn(ev, &got)
				}
				var a schemas.AddressAttempt
				if !stores[own].AddressAttempt(ev, &got, &a) {
					t.Fatalf("attempt %d has no address side", i)
				}
				batch := schemas.AppendAddressBatch(nil, []schemas.AddressAttempt{a})
				for j, s := range stores {
					if j == own {
						continue
					}
					if _, err := schemas.DecodeAddressAttempts(batch, s.ObserveAddress); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range users {
				user := fmt.Sprintf("victim-%d@example.com", i)
				for j, s := range stores {
					counters := s.UserCounters("", user, t0.Add(20*time.Minute))
					seen := counters.Get("user_failures_24h") + counters.Get("user_successes_24h")
					if own := i % len(stores); j != own && seen != 0 {
						t.Errorf("store %d counts %v attempts of %s, a user of store %d", j, seen, user, own)
					}
				}
			}
		})
	}
}

// withoutPopulation zeroes the features that depend on the population
// of a store's users.
func withoutPopulation(f *schemas.Features) {
	f.FamiliarityRisk, f.FamiliarityNetworkBits, f.FamiliarityASNBits, f.FamiliarityCountryBits = 0, 0, 0, 0
	f.FamiliarityCityBits, f.FamiliarityBrowserBits, f.FamiliarityOSBits, f.FamiliarityDeviceBits, f.FamiliarityHourBits = 0, 0, 0, 0, 0
}

// BenchmarkObserveAddress is what another instance's attempt costs an
// instance (docs/scaling.md): decoding its share of a batch and counting
// it in the address, network and ASN state, for a stuffing run over many
// addresses of a hosting network.
func BenchmarkObserveAddress(b *testing.B) {
	s, err := NewStore(StoreConfig{})
	if err != nil {
		b.Fatal(err)
	}
	addrs := featuretest.Addrs(b, 4096)
	const perBatch = 1000
	batches := make([][]byte, 64)
	for i := range batches {
		attempts := make([]schemas.AddressAttempt, perBatch)
		for j := range attempts {
			n := i*perBatch + j
			attempts[j] = schemas.AddressAttempt{
				At: t0.Add(time.Duration(n) * time.Millisecond), Failure: n%10 != 0, UnknownUser: n%10 != 0 && n%3 == 0,
				UserHash: uint64(n) * 0x9e3779b97f4a7c15, Addr: addrs[n%len(addrs)], ASN: uint32(64701 + n%2),
			}
		}
		batches[i] = schemas.AppendAddressBatch(nil, attempts)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, done := featuretest.ProcessCPU(), 0
	for i := 0; done < b.N; i++ {
		n, err := schemas.DecodeAddressAttempts(batches[i%len(batches)], s.ObserveAddress)
		if err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.StopTimer()
	featuretest.ReportCPU(b, start, done)
}
