package kafkastream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// instance is one loginrisk process: a stream and an engine.
type instance struct {
	name   string
	stream *Stream
	eng    *engine.Engine
}

func newInstance(t *testing.T, name string, cfg Config) *instance {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	stream, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Close() })
	rm, err := rules.NewManager(rules.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	enricher, err := enrich.NewEnricher(enrich.EnricherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enricher.Close() })
	store, err := state.NewStore(state.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Rules: rm, Enricher: enricher, State: store, Recorder: engine.Recorder{Publisher: stream}, DLQ: stream, Feedback: keptLabels{}})
	if err != nil {
		t.Fatal(err)
	}
	return &instance{name: name, stream: stream, eng: eng}
}

// keptLabels accepts every label (the ClickHouse feedback table is
// tested in engine/history).
type keptLabels struct{}

func (keptLabels) RecordFeedback(context.Context, schemas.Feedback) error { return nil }

// TestFollowDecisionsReplicatesLocks runs two instances in one consumer
// group. A brute force on one account is keyed by user_id, so one
// instance scores all of it and sets the lock; the other must learn the
// lock from the decisions topic.
func TestFollowDecisionsReplicatesLocks(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		Brokers:        brokers,
		GroupID:        testkit.Name("group"),
		EventsTopic:    testkit.Name("events"),
		DecisionsTopic: testkit.Name("decisions"),
		DLQTopic:       testkit.Name("dlq"),
		Partitions:     4,
		MaxBatch:       50,
		DrainTimeout:   5 * time.Second,
		DecisionKeys:   testDecisionKeys,
	}
	a, b := newInstance(t, "a", cfg), newInstance(t, "b", cfg)
	if err := a.stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	since := time.Now().Add(-24 * time.Hour)
	for _, in := range []*instance{a, b} {
		wg.Go(func() {
			if err := in.stream.Run(runCtx, in.eng); err != nil {
				t.Errorf("instance %s: Run: %v", in.name, err)
			}
		})
		wg.Go(func() {
			if err := in.stream.FollowDecisions(runCtx, since, in.eng.ApplyDecision); err != nil {
				t.Errorf("instance %s: FollowDecisions: %v", in.name, err)
			}
		})
	}
	waitForStableGroup(ctx, t, brokers, cfg.GroupID, 2, cfg.Partitions)

	// The same user id in the default tenant and in tenant acme, each
	// from its own address: two users, two locks, both replicated with
	// their tenant, and none on acme's namesake in globex.
	user, ip, acmeIP := "mallory-target@example.com", "203.0.113.66", "203.0.113.67"
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	writer := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cfg.EventsTopic, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	var msgs []kafka.Message
	for i := range 5 {
		for _, who := range []struct{ tenant, ip string }{{"", ip}, {"acme", acmeIP}} {
			ev := schemas.LoginEvent{EventID: fmt.Sprintf("follow-%s-%d", who.tenant, i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: user,
				TenantID: who.tenant, Outcome: schemas.OutcomeFailure, IP: who.ip, FailureReason: "bad_password",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}
			value, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Key: []byte(user), Value: value})
		}
	}
	testkit.Produce(ctx, t, writer, msgs...)

	at := start.Add(5 * time.Minute)
	wantKey, acmeKey := user+"|"+ip, user+"|"+acmeIP
	hasLock := func(in *instance, tenant, key string) bool {
		for _, l := range in.eng.UserStatus(tenant, user, at).Locks {
			if l.Scope == schemas.ScopeUserIP && l.Key == key && l.TenantID == tenant && l.Rule == "failure_burst" && l.Until.Equal(start.Add(4*time.Minute).Add(10*time.Minute)) {
				return true
			}
		}
		return false
	}
	locked := func(in *instance) bool { return hasLock(in, "", wantKey) }
	acmeLocked := func(in *instance) bool { return hasLock(in, "acme", acmeKey) }
	deadline := time.Now().Add(90 * time.Second)
	for !(locked(a) && locked(b) && acmeLocked(a) && acmeLocked(b)) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s: instance a locked=%v/%v (scored %d), b locked=%v/%v (scored %d); a: %+v %+v b: %+v %+v",
				locked(a), acmeLocked(a), a.eng.Metrics().EventsTotal.Load(), locked(b), acmeLocked(b), b.eng.Metrics().EventsTotal.Load(),
				a.eng.UserStatus("", user, at), a.eng.UserStatus("acme", user, at), b.eng.UserStatus("", user, at), b.eng.UserStatus("acme", user, at))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, in := range []*instance{a, b} {
		if st := in.eng.UserStatus("", user, at); len(st.Locks) != 1 {
			t.Errorf("instance %s: the default tenant's user has locks %+v, want only its own", in.name, st.Locks)
		}
		if st := in.eng.UserStatus("globex", user, at); len(st.Locks) != 0 {
			t.Errorf("instance %s: globex's namesake has locks %+v, want none", in.name, st.Locks)
		}
	}
	scoredA, scoredB := a.eng.Metrics().EventsTotal.Load(), b.eng.Metrics().EventsTotal.Load()
	if !(scoredA == 10 && scoredB == 0 || scoredA == 0 && scoredB == 10) {
		t.Errorf("events scored: a %d, b %d; want all ten by one instance (one partition, one owner)", scoredA, scoredB)
	}

	// A lift on the instance that did not score is replicated back, and
	// lifts that tenant's user's lock only.
	other, scorer := a, b
	if scoredA == 10 {
		other, scorer = b, a
	}
	if _, err := other.eng.Lift(ctx, schemas.ScopeUserIP, "acme", acmeKey, "test", at); err != nil {
		t.Fatalf("lift of acme's lock on instance %s: %v", other.name, err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for acmeLocked(scorer) {
		if time.Now().After(deadline) {
			t.Fatalf("instance %s still has acme's lock lifted on %s", scorer.name, other.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !locked(scorer) {
		t.Errorf("instance %s: lifting acme's user's lock lifted the default tenant's", scorer.name)
	}
	if _, err := other.eng.Lift(ctx, schemas.ScopeUserIP, "", wantKey, "test", at); err != nil {
		t.Fatalf("lift on instance %s: %v", other.name, err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for locked(scorer) {
		if time.Now().After(deadline) {
			t.Fatalf("instance %s still has the lock lifted on %s", scorer.name, other.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFollowDecisionsSince checks where following starts: decisions
// published before since are skipped, later ones applied, and messages
// that are not decisions are skipped without stopping the partition.
func TestFollowDecisionsSince(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	writer := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DecisionsTopic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	decision := func(id string) []byte {
		v, _ := schemas.EncodeDecision(nil, &schemas.Decision{EventID: id, UserID: "u-" + id, Decision: schemas.VerdictLockout, Reasons: []schemas.Reason{},
			Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: "u-" + id, Until: time.Now().Add(time.Hour), Rule: "test"}})
		return v
	}
	// A decision without a lock changes no lock table: it is never applied.
	plain, _ := schemas.EncodeDecision(nil, &schemas.Decision{EventID: "plain-1", UserID: "u-plain", Decision: schemas.VerdictAllow, Reasons: []schemas.Reason{}})
	old := time.Now().Add(-2 * time.Hour)
	testkit.Produce(ctx, t, writer, signed(t, testDecisionKeys[0],
		kafka.Message{Key: []byte("k1"), Value: decision("old-1"), Time: old},
		kafka.Message{Key: []byte("k2"), Value: decision("old-2"), Time: old},
	)...)

	tests := []struct {
		name  string
		since time.Time
		want  []string // event ids applied, in any order
	}{
		{name: "since before everything", since: old.Add(-time.Minute), want: []string{"old-1", "old-2", "new-1", "new-2"}},
		{name: "since after the old ones", since: old.Add(time.Hour), want: []string{"new-1", "new-2"}},
	}
	// The new messages are published once, after the first follower
	// started, so both cases see them; the undecodable ones in between
	// must not stop anything.
	published := false
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applied := followUntil(ctx, t, s, tc.since, func() {
				if !published {
					published = true
					testkit.Produce(ctx, t, writer, signed(t, testDecisionKeys[0],
						kafka.Message{Key: []byte("k1"), Value: []byte(`not json, "lock"`)},
						kafka.Message{Key: []byte("k2"), Value: []byte(`{"user_id":"no event id","lock":null}`)},
						kafka.Message{Key: []byte("k2"), Value: plain},
						kafka.Message{Key: []byte("k1"), Value: decision("new-1")},
						kafka.Message{Key: []byte("k2"), Value: decision("new-2")},
					)...)
				}
			}, func(applied map[string]int) bool { return len(applied) >= len(tc.want) },
				200*time.Millisecond) // time for a wrongly applied old decision to show up
			if len(applied) != len(tc.want) {
				t.Errorf("applied %v, want %v", applied, tc.want)
			}
			for _, id := range tc.want {
				if applied[id] != 1 {
					t.Errorf("decision %s applied %d times, want once (applied %v)", id, applied[id], applied)
				}
			}
		})
	}
}

// waitForStableGroup waits until the group has members members sharing all
// partitions, so no rebalance moves a partition while the test produces.
func waitForStableGroup(ctx context.Context, t *testing.T, brokers []string, group string, members, partitions int) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(resp.Groups) == 1 {
			g := resp.Groups[0]
			assigned, busy := 0, 0
			for _, m := range g.Members {
				n := 0
				for _, topic := range m.MemberAssignments.Topics {
					n += len(topic.Partitions)
				}
				assigned += n
				if n > 0 {
					busy++
				}
			}
			last = fmt.Sprintf("state %s, %d members, %d with partitions, %d partitions assigned", g.GroupState, len(g.Members), busy, assigned)
			if g.GroupState == "Stable" && len(g.Members) == members && busy == members && assigned == partitions {
				return
			}
		} else if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("consumer group %s did not settle: %s", group, last)
}

// followTestConfig returns a context for a follower test (two minutes)
// and a configuration with fresh topics of two partitions on the test
// broker.
func followTestConfig(t *testing.T) (context.Context, Config) {
	t.Helper()
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, Config{Brokers: brokers, EventsTopic: testkit.Name("events"), DecisionsTopic: testkit.Name("decisions"), DLQTopic: testkit.Name("dlq"), Partitions: 2,
		DecisionKeys: testDecisionKeys, Logger: slog.New(slog.DiscardHandler)}
}

// followUntil follows s's decisions from since: it calls started once the
// follower runs, waits until enough (called with the decisions applied so
// far, under their lock) or 60 s, lets settle pass, stops the follower and
// returns how many times each event id was applied.
func followUntil(ctx context.Context, t *testing.T, s *Stream, since time.Time, started func(), enough func(applied map[string]int) bool, settle time.Duration) map[string]int {
	t.Helper()
	fctx, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	applied := map[string]int{}
	done := make(chan error, 1)
	go func() {
		done <- s.FollowDecisions(fctx, since, func(d *schemas.Decision) error {
			mu.Lock()
			applied[d.EventID]++
			mu.Unlock()
			return nil
		})
	}()
	started()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		ok := enough(applied)
		mu.Unlock()
		if ok {
			break
		}
	}
	time.Sleep(settle)
	stop()
	if err := <-done; err != nil {
		t.Errorf("FollowDecisions: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(applied)
}

// TestFollowDecisionsSkipsOwn: a process does not read back the lock
// decisions it published itself (it applied them when it made them), but
// applies every other process's, and a restarted process (a new Stream)
// reads its predecessor's.
func TestFollowDecisionsSkipsOwn(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	newStream := func() *Stream {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := newStream(), newStream()
	if err := a.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	decisions := func(prefix string, n int) []*schemas.Decision {
		var ds []*schemas.Decision
		for i := range n {
			id := fmt.Sprintf("%s-%d", prefix, i)
			ds = append(ds, &schemas.Decision{EventID: id, UserID: "u-" + id, Decision: schemas.VerdictLockout, Reasons: []schemas.Reason{},
				OccurredAt: time.Now(), Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: "u-" + id, Until: time.Now().Add(time.Hour), Rule: "test"}})
		}
		return ds
	}
	since := time.Now().Add(-time.Minute)
	if err := a.PublishDecisions(ctx, decisions("a", 3)); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishDecisions(ctx, decisions("b", 2)); err != nil {
		t.Fatal(err)
	}

	follow := func(s *Stream, want int64) map[string]int {
		t.Helper()
		return followUntil(ctx, t, s, since, func() {}, func(map[string]int) bool {
			m := s.Metrics()
			return m.DecisionsFollowed.Load()+m.OwnDecisionsSkipped.Load() >= want
		}, 0)
	}

	got := follow(a, 5)
	if len(got) != 2 || got["b-0"] != 1 || got["b-1"] != 1 {
		t.Errorf("a applied %v, want b-0 and b-1 only", got)
	}
	if n := a.Metrics().OwnDecisionsSkipped.Load(); n != 3 {
		t.Errorf("a skipped %d of its own decisions, want 3", n)
	}
	if n := a.Metrics().DecisionsFollowed.Load(); n != 2 {
		t.Errorf("a followed %d decisions, want 2", n)
	}

	if got := follow(newStream(), 5); len(got) != 5 {
		t.Errorf("a restarted process applied %d decisions (%v), want all 5", len(got), got)
	}
}

// TestFollowDecisionsReplicatesNetworkLocks: a spray rotating over one
// /24, scored by one instance, sets a network lock (network_spray); an
// instance that only follows the decisions topic learns it, signed as
// every lock is, and its status of another address of the /24 lists it.
func TestFollowDecisionsReplicatesNetworkLocks(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		Brokers:        brokers,
		GroupID:        testkit.Name("group"),
		EventsTopic:    testkit.Name("events"),
		DecisionsTopic: testkit.Name("decisions"),
		DLQTopic:       testkit.Name("dlq"),
		Partitions:     1, // the spray in event order: a late attempt does not count those after it
		MaxBatch:       50,
		DrainTimeout:   5 * time.Second,
		DecisionKeys:   testDecisionKeys,
	}
	scorer, follower := newInstance(t, "scorer", cfg), newInstance(t, "follower", cfg)
	if err := scorer.stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() {
		if err := scorer.stream.Run(runCtx, scorer.eng); err != nil {
			t.Errorf("scorer: Run: %v", err)
		}
	})
	wg.Go(func() {
		if err := follower.stream.FollowDecisions(runCtx, time.Now().Add(-24*time.Hour), follower.eng.ApplyDecision); err != nil {
			t.Errorf("follower: FollowDecisions: %v", err)
		}
	})
	waitForStableGroup(ctx, t, brokers, cfg.GroupID, 1, cfg.Partitions)

	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	writer := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cfg.EventsTopic, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	var msgs []kafka.Message
	for i := range 20 {
		ev := schemas.LoginEvent{EventID: fmt.Sprintf("spray-%d", i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: fmt.Sprintf("victim%d", i),
			Outcome: schemas.OutcomeFailure, IP: fmt.Sprintf("198.51.100.%d", 10+i%8), FailureReason: "bad_password"}
		value, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(ev.UserID), Value: value})
	}
	testkit.Produce(ctx, t, writer, msgs...)

	at := start.Add(20 * time.Minute)
	networkLocked := func(in *instance) bool {
		for _, l := range in.eng.IPStatus(netip.MustParseAddr("198.51.100.200"), at).Locks {
			if l.Scope == schemas.ScopeNetwork && l.Key == "198.51.100.0/24" && l.Rule == "network_spray" {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(90 * time.Second)
	for !(networkLocked(scorer) && networkLocked(follower)) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s: scorer locked=%v (scored %d, status %+v), follower locked=%v", networkLocked(scorer), scorer.eng.Metrics().EventsTotal.Load(),
				scorer.eng.IPStatus(netip.MustParseAddr("198.51.100.17"), at), networkLocked(follower))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
