package kafkastream

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// newEngine returns an engine on cfg with the shipped rules, a store of
// its own and, unless cfg names one, an enricher without databases (the
// user agent parsed, no GeoIP).
func newEngine(t *testing.T, cfg engine.Config) *engine.Engine {
	t.Helper()
	if cfg.Enricher == nil {
		enricher, err := enrich.NewEnricher(enrich.EnricherConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { enricher.Close() })
		cfg.Enricher = enricher
	}
	eng, _ := testkit.Engine(t, "", cfg)
	return eng
}

// stuffingRun is a credential-stuffing run from one address: one
// failure per account, the accounts chosen so that consecutive attempts
// go to consecutive partitions of the events topic (keyed by user_id,
// partitioned as the Java client does), through every partition.
func stuffingRun(n, partitions int, ip string) []schemas.LoginEvent {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	balancer := &kafka.Murmur2Balancer{}
	var events []schemas.LoginEvent
	for candidate := 0; len(events) < n; candidate++ {
		user := fmt.Sprintf("stuffed-%d@example.com", candidate)
		if balancer.Balance(kafka.Message{Key: []byte(user)}, ids...) != len(events)%partitions {
			continue
		}
		events = append(events, schemas.LoginEvent{
			EventID: fmt.Sprintf("stuffing-%d", len(events)), OccurredAt: start.Add(time.Duration(len(events)) * 5 * time.Second),
			UserID: user, Outcome: schemas.OutcomeFailure, FailureReason: "bad_password", IP: ip, AuthMethod: "password",
			UserAgent: "python-requests/2.32.3",
		})
	}
	return events
}

// firstLockout returns the index of the first lockout in verdicts, or -1.
func firstLockout(verdicts []schemas.Verdict) int {
	return slices.Index(verdicts, schemas.VerdictLockout)
}

// lockedAt says at which attempt verdicts first lock.
func lockedAt(verdicts []schemas.Verdict) string {
	if i := firstLockout(verdicts); i >= 0 {
		return fmt.Sprintf("locked at attempt %d", i+1)
	}
	return "never locked"
}

// TestAddressSignalsAcrossInstances runs three instances in one consumer
// group, each with its own store and a third of the partitions, against
// a credential-stuffing address whose accounts hash to every partition.
// With shared addresses, every attempt gets the verdict one instance
// scoring all of them gives (the reference, scored in-process by the
// same engine code): the address is locked at the same attempt. Without,
// each instance sees a third of the attempts and the lock comes later,
// or not at all: the run does need the sharing.
//
// The lag: the attacker sends an attempt only once the previous one is
// decided and, with sharing, counted by the two other instances
// (Metrics.AddressesApplied): an attacker slower than the lag. How long
// that took is logged; docs/scaling.md has the lag measured under load
// (BenchmarkAddressShareLag).
func TestAddressSignalsAcrossInstances(t *testing.T) {
	const attempts, partitions = 16, 6
	run := stuffingRun(attempts, partitions, "203.0.113.77")

	reference := newEngine(t, engine.Config{})
	var want []schemas.Verdict
	for i := range run {
		ev := run[i]
		if err := schemas.Validate(&ev); err != nil {
			t.Fatal(err)
		}
		out, err := reference.Score(&ev, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, out.Decision.Decision)
	}
	wantLock := firstLockout(want)
	if wantLock < 0 {
		t.Fatalf("one instance never locks the stuffing address: %v", want)
	}
	t.Logf("one instance: %v, %s", want, lockedAt(want))

	for _, share := range []bool{true, false} {
		t.Run(fmt.Sprintf("share=%v", share), func(t *testing.T) {
			got := runInstances(t, partitions, run, share)
			if share {
				if !slices.Equal(got, want) {
					t.Fatalf("three instances: %v (%s)\none instance: %v (%s)", got, lockedAt(got), want, lockedAt(want))
				}
				return
			}
			if lock := firstLockout(got); lock >= 0 && lock <= wantLock {
				t.Fatalf("without sharing three instances lock at attempt %d, one instance at %d: the run does not test the sharing", lock+1, wantLock+1)
			}
		})
	}
}

// runInstances plays run, one attempt at a time, against three
// instances, and returns the verdicts.
func runInstances(t *testing.T, partitions int, run []schemas.LoginEvent, share bool) []schemas.Verdict {
	ctx, cfg := groupTestConfig(t, 4*time.Minute, partitions)
	cfg.AddressesTopic = testkit.Name("addresses")
	type member struct {
		stream *Stream
		eng    *engine.Engine
		scored int // attempts of run it decided
	}
	members := make([]*member, 3)
	for i := range members {
		stream := newStream(t, cfg)
		var publisher engine.AddressPublisher
		if share {
			publisher = stream
		}
		members[i] = &member{stream: stream, eng: newEngine(t, engine.Config{Recorder: engine.Recorder{Publisher: stream}, DLQ: stream, Addresses: publisher})}
	}
	if err := members[0].stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	since := time.Now().Add(-time.Minute)
	for _, m := range members {
		wg.Go(func() {
			if err := m.stream.Run(runCtx, m.eng); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		wg.Go(func() { _ = m.stream.FollowDecisions(runCtx, since, m.eng.ApplyDecision) })
		if share {
			wg.Go(func() { _ = m.stream.ShareAddresses(runCtx) })
			wg.Go(func() { _ = m.stream.FollowAddresses(runCtx, since, m.eng.ObserveAddress) })
		}
	}
	waitForStableGroup(ctx, t, cfg.Brokers, cfg.GroupID, len(members), partitions)

	writer := eventsWriter(t, cfg.Brokers, cfg.EventsTopic)
	var verdicts []schemas.Verdict
	var slowest time.Duration
	partitionsSeen := map[int]bool{}
	for i, ev := range run {
		testkit.Produce(ctx, t, writer, eventMessages(t, ev)...)
		var d *schemas.Decision
		var by int
		for d == nil {
			for j, m := range members {
				if got, ok := m.eng.Decision(ev.EventID); ok {
					d, by = got, j
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("attempt %d was never decided", i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
		decided := time.Now()
		members[by].scored++
		partitionsSeen[by] = true
		verdicts = append(verdicts, d.Decision)
		if !share {
			continue
		}
		// The attacker waits until the two other instances counted
		// this attempt: each has applied every attempt it did not score.
		for j, m := range members {
			want := int64(i + 1 - m.scored)
			for m.stream.Metrics().AddressesApplied.Load() < want {
				if ctx.Err() != nil {
					t.Fatalf("instance %d applied %d other instances' attempts, want %d", j, m.stream.Metrics().AddressesApplied.Load(), want)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		slowest = max(slowest, time.Since(decided))
	}
	if len(partitionsSeen) != len(members) {
		t.Fatalf("only %d of %d instances scored attempts", len(partitionsSeen), len(members))
	}
	if share {
		t.Logf("slowest lag, from a decision to its attempt counted on every other instance: %s", slowest.Round(time.Millisecond))
	}
	return verdicts
}

// TestFollowAddressesRefusesBadBatches: on the addresses topic, a batch
// that is unsigned, signed with a decision's MAC (another domain), signed
// with a key not accepted, or not a batch is dropped and counted, never
// applied, and never stops the reader: a good batch after them is
// applied. The follower skips its own process's batches.
func TestFollowAddressesRefusesBadBatches(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.AddressesTopic = testkit.Name("addresses")
	follower := newStreamWithTopics(ctx, t, cfg)
	good := []schemas.AddressAttempt{
		{At: time.Unix(1.7e9, 0), Failure: true, UserHash: 1, Addr: netip.MustParseAddr("203.0.113.5")},
		{At: time.Unix(1.7e9, 0), Failure: true, UserHash: 2, Addr: netip.MustParseAddr("2001:db8::5")},
	}
	batch := schemas.AppendAddressBatch(nil, good)
	key := []byte("other-instance")
	other, err := newDomainSigner(addressMACDomain, testDecisionKeys)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newDomainSigner(addressMACDomain, []DecisionKey{{ID: "stranger", Secret: []byte("not-one-of-the-decision-keys-0123456789")}})
	if err != nil {
		t.Fatal(err)
	}
	decisions, err := newSigner(testDecisionKeys)
	if err != nil {
		t.Fatal(err)
	}
	withMAC := func(sg *signer, value []byte, extra ...kafka.Header) kafka.Message {
		mac := sg.headers(sg.sign(nil, key, value))
		return kafka.Message{Key: key, Value: value, Headers: append([]kafka.Header{mac[0], mac[1]}, extra...)}
	}
	garbage := []byte(`{"event_id":"not a batch"}`)
	msgs := []kafka.Message{
		{Key: key, Value: batch},                    // unsigned
		withMAC(decisions, batch),                   // a decision's MAC
		withMAC(stranger, batch),                    // a key not accepted
		withMAC(other, garbage),                     // signed, not a batch
		withMAC(other, batch[:len(batch)-3]),        // signed, cut
		withMAC(other, batch, follower.instance[0]), // its own: skipped
		withMAC(other, batch),                       // applied
	}
	w := follower.clients.Writer(cfg.AddressesTopic, WriterOptions{BatchSize: len(msgs), BatchTimeout: time.Millisecond, AutoCreate: true})
	defer w.Close()
	testkit.Produce(ctx, t, w, msgs...)

	var applied []schemas.AddressAttempt
	var mu sync.Mutex
	var calls atomic.Int64
	stop := testkit.Start(ctx, func(ctx context.Context) error {
		return follower.FollowAddresses(ctx, time.Now().Add(-time.Hour), func(a *schemas.AddressAttempt) {
			mu.Lock()
			applied = append(applied, *a)
			mu.Unlock()
			calls.Add(1)
		})
	})
	m := follower.Metrics()
	for m.AddressesApplied.Load() < int64(len(good)) || m.AddressBatchesRefused.Load() < 5 {
		if ctx.Err() != nil {
			t.Fatalf("applied %d attempts and refused %d batches, want %d and 5", m.AddressesApplied.Load(), m.AddressBatchesRefused.Load(), len(good))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for a wrong extra apply
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if refused := m.AddressBatchesRefused.Load(); refused != 5 {
		t.Errorf("%d batches refused, want 5", refused)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(applied) != len(good) || applied[0].Addr != good[0].Addr || applied[1].Addr != good[1].Addr {
		t.Errorf("applied %+v, want the good batch's %+v once", applied, good)
	}
}
