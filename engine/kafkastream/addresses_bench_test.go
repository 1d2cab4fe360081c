package kafkastream

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// BenchmarkAddressShareLag measures the lag of the shared addresses
// (docs/scaling.md) on the test broker: three instances publish b.N
// attempts in all at 10,000 a second, each follows the others' into a
// store of its own, and the lag of an attempt is the time from its
// PublishAddress (the moment it is scored) to its ObserveAddress on
// another instance. Run it with a fixed count, for example
// -benchtime=50000x (5 s of traffic); ns/op means nothing here.
func BenchmarkAddressShareLag(b *testing.B) {
	const perSecond, instances = 10_000, 3
	ctx, brokers, _ := testkit.KafkaContext(b, 5*time.Minute)
	cfg := Config{
		Brokers: brokers, GroupID: testkit.Name("group"), EventsTopic: testkit.Name("events"), DecisionsTopic: testkit.Name("decisions"),
		DLQTopic: testkit.Name("dlq"), AddressesTopic: testkit.Name("addresses"), Partitions: 6,
		DecisionKeys: testDecisionKeys, Logger: slog.New(slog.DiscardHandler),
	}
	var (
		mu   sync.Mutex
		lags = make([]time.Duration, 0, 2*b.N)
		done = make(chan struct{})
	)
	streams := make([]*Stream, instances)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range streams {
		s, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if i == 0 {
			if err := s.EnsureTopics(ctx); err != nil {
				b.Fatal(err)
			}
		}
		store, err := state.NewStore(state.StoreConfig{})
		if err != nil {
			b.Fatal(err)
		}
		streams[i] = s
		wg.Go(func() { _ = s.ShareAddresses(runCtx) })
		wg.Go(func() {
			_ = s.FollowAddresses(runCtx, time.Now().Add(-time.Minute), func(a *schemas.AddressAttempt) {
				lag := time.Duration(time.Now().UnixNano() - int64(a.UserHash)) // UserHash carries the publish time
				store.ObserveAddress(a)
				mu.Lock()
				lags = append(lags, lag)
				if len(lags) == 2*b.N {
					close(done)
				}
				mu.Unlock()
			})
		})
	}
	defer func() { stop(); wg.Wait() }()
	time.Sleep(time.Second) // the followers find their start offsets

	addr := netip.MustParseAddr("203.0.113.99")
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	start := time.Now()
	for sent := 0; sent < b.N; {
		<-tick.C
		due := min(int(time.Since(start)*perSecond/time.Second), b.N) // paced by the clock, not by the ticks
		for ; sent < due; sent++ {
			a := schemas.AddressAttempt{At: time.Now(), Failure: true, UserHash: uint64(time.Now().UnixNano()), Addr: addr}
			streams[sent%instances].PublishAddress(&a)
		}
	}
	tick.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		b.Fatalf("%d of %d attempts applied", len(lags), 2*b.N)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	at := func(q float64) float64 { return float64(lags[int(q*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-lag-ms")
	b.ReportMetric(at(0.99), "p99-lag-ms")
	b.ReportMetric(at(1), "max-lag-ms")
	for _, s := range streams {
		if d := s.Metrics().AddressesDropped.Load(); d != 0 {
			b.Errorf("%d attempts dropped", d)
		}
	}
}

// BenchmarkPublishAddress is what sharing costs the scoring of one
// event: queueing its address side (PublishAddress) and publishing it in
// batches of a thousand, the encoding and signing that ShareAddresses
// does, without the broker.
func BenchmarkPublishAddress(b *testing.B) {
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, DecisionKeys: testDecisionKeys, MaxAddressQueue: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	a := schemas.AddressAttempt{At: time.Unix(1.7e9, 0), Failure: true, UserHash: 42, Addr: netip.MustParseAddr("203.0.113.99")}
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.PublishAddress(&a)
		if i%1000 == 999 {
			buf = schemas.AppendAddressBatch(buf[:0], s.addresses.take())
			_ = s.addressSigner.sign(nil, s.instance[0].Value, buf)
		}
	}
}
