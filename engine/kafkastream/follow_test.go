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
	"github.com/loginrisk/loginrisk/schemas"
)

// instance is one loginrisk process: a stream and an engine.
type instance struct {
	name   string
	stream *Stream
	eng    *engine.Engine
}

// groupTestConfig is testConfig for instances in a consumer group of
// their own, scoring batches of up to 50 events and draining for up to
// 5 s.
func groupTestConfig(t *testing.T, timeout time.Duration, partitions int) (context.Context, Config) {
	t.Helper()
	ctx, cfg := testConfig(t, timeout, partitions)
	cfg.GroupID, cfg.MaxBatch, cfg.DrainTimeout = testkit.Name("group"), 50, 5*time.Second
	return ctx, cfg
}

// newInstance is an instance on cfg whose engine publishes its decisions
// and dead letters through the stream.
func newInstance(t *testing.T, name string, cfg Config) *instance {
	t.Helper()
	stream := newStream(t, cfg)
	eng := newEngine(t, engine.Config{Recorder: engine.Recorder{Publisher: stream}, DLQ: stream, Feedback: keptLabels{}})
	return &instance{name: name, stream: stream, eng: eng}
}

// createInstances creates cfg's topics and returns an instance on cfg per
// name.
func createInstances(ctx context.Context, t *testing.T, cfg Config, names ...string) []*instance {
	t.Helper()
	ins := make([]*instance, len(names))
	for i, name := range names {
		ins[i] = newInstance(t, name, cfg)
	}
	if err := ins[0].stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	return ins
}

// startInstances creates cfg's topics and runs an instance per name in
// cfg's group, each scoring its partitions (Run) and following the
// others' decisions from a day ago, until the test ends; it returns once
// the group is stable with every instance holding partitions.
func startInstances(ctx context.Context, t *testing.T, cfg Config, names ...string) []*instance {
	t.Helper()
	ins := createInstances(ctx, t, cfg, names...)
	since := time.Now().Add(-24 * time.Hour)
	for _, in := range ins {
		in.run(ctx, t)
		in.follow(ctx, t, since)
	}
	waitForStableGroup(ctx, t, cfg.Brokers, cfg.GroupID, len(ins), cfg.Partitions)
	return ins
}

// run scores the instance's partitions of the events topic (Run) until
// the test ends.
func (in *instance) run(ctx context.Context, t *testing.T) {
	in.background(t, "Run", testkit.Start(ctx, func(ctx context.Context) error { return in.stream.Run(ctx, in.eng) }))
}

// follow applies the decisions topic from since (FollowDecisions) until
// the test ends.
func (in *instance) follow(ctx context.Context, t *testing.T, since time.Time) {
	in.background(t, "FollowDecisions", testkit.Start(ctx, func(ctx context.Context) error {
		return in.stream.FollowDecisions(ctx, since, in.eng.ApplyDecision)
	}))
}

// background calls stop when the test ends, and fails the test with the
// error stop returns (what the instance was running returned).
func (in *instance) background(t *testing.T, what string, stop func() error) {
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("instance %s: %s: %v", in.name, what, err)
		}
	})
}

// newStream returns a Stream on cfg, closed when the test ends.
func newStream(t testing.TB, cfg Config) *Stream {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStreamWithTopics is newStream once cfg's topics exist
// (EnsureTopics).
func newStreamWithTopics(ctx context.Context, t testing.TB, cfg Config) *Stream {
	t.Helper()
	s := newStream(t, cfg)
	if err := s.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// eventsWriter writes to topic on brokers as a gateway does: keyed by
// user_id, partitioned as the Java client does, acknowledged by every
// replica. It is closed when the test ends.
func eventsWriter(t *testing.T, brokers []string, topic string) *kafka.Writer {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	t.Cleanup(func() { w.Close() })
	return w
}

// eventMessages encodes evs as events topic messages keyed by user_id.
func eventMessages(t *testing.T, evs ...schemas.LoginEvent) []kafka.Message {
	t.Helper()
	msgs := make([]kafka.Message, len(evs))
	for i, ev := range evs {
		value, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(ev.UserID), Value: value}
	}
	return msgs
}

// produceEvents publishes evs to cfg's events topic (eventsWriter).
func produceEvents(ctx context.Context, t *testing.T, cfg Config, evs ...schemas.LoginEvent) {
	t.Helper()
	testkit.Produce(ctx, t, eventsWriter(t, cfg.Brokers, cfg.EventsTopic), eventMessages(t, evs...)...)
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
	ctx, cfg := groupTestConfig(t, 3*time.Minute, 4)
	ins := startInstances(ctx, t, cfg, "a", "b")
	a, b := ins[0], ins[1]

	// The same user id in the default tenant and in tenant acme, each
	// from its own address: two users, two locks, both replicated with
	// their tenant, and none on acme's namesake in globex.
	user, ip, acmeIP := "mallory-target@example.com", "203.0.113.66", "203.0.113.67"
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var evs []schemas.LoginEvent
	for i := range 5 {
		for _, who := range []struct{ tenant, ip string }{{"", ip}, {"acme", acmeIP}} {
			evs = append(evs, schemas.LoginEvent{EventID: fmt.Sprintf("follow-%s-%d", who.tenant, i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: user,
				TenantID: who.tenant, Outcome: schemas.OutcomeFailure, IP: who.ip, FailureReason: "bad_password",
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"})
		}
	}
	produceEvents(ctx, t, cfg, evs...)

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
	waitFor(t, fmt.Sprintf("instance %s still has acme's lock lifted on %s", scorer.name, other.name), func() bool { return !acmeLocked(scorer) })
	if !locked(scorer) {
		t.Errorf("instance %s: lifting acme's user's lock lifted the default tenant's", scorer.name)
	}
	if _, err := other.eng.Lift(ctx, schemas.ScopeUserIP, "", wantKey, "test", at); err != nil {
		t.Fatalf("lift on instance %s: %v", other.name, err)
	}
	waitFor(t, fmt.Sprintf("instance %s still has the lock lifted on %s", scorer.name, other.name), func() bool { return !locked(scorer) })
}

// TestFollowDecisionsSince checks where following starts: decisions
// published before since are skipped, later ones applied, and messages
// that are not decisions are skipped without stopping the partition.
func TestFollowDecisionsSince(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	s := newStreamWithTopics(ctx, t, cfg)
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
			busy, assigned := testkit.GroupAssignment(g)
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
	return testConfig(t, 2*time.Minute, 2)
}

// testConfig returns a context that ends after timeout or with the test,
// and a configuration with fresh topics of partitions partitions on the
// test broker, signing with testDecisionKeys and logging nowhere.
func testConfig(t *testing.T, timeout time.Duration, partitions int) (context.Context, Config) {
	t.Helper()
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx, Config{Brokers: brokers, EventsTopic: testkit.Name("events"), DecisionsTopic: testkit.Name("decisions"), DLQTopic: testkit.Name("dlq"),
		Partitions: partitions, DecisionKeys: testDecisionKeys, Logger: slog.New(slog.DiscardHandler)}
}

// followUntil follows s's decisions from since: it calls started once the
// follower runs, waits until enough (called with the decisions applied so
// far, under their lock) or 60 s, lets settle pass, stops the follower and
// returns how many times each event id was applied.
func followUntil(ctx context.Context, t *testing.T, s *Stream, since time.Time, started func(), enough func(applied map[string]int) bool, settle time.Duration) map[string]int {
	t.Helper()
	var mu sync.Mutex
	applied := map[string]int{}
	stop := testkit.Start(ctx, func(ctx context.Context) error {
		return s.FollowDecisions(ctx, since, func(d *schemas.Decision) error {
			mu.Lock()
			applied[d.EventID]++
			mu.Unlock()
			return nil
		})
	})
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
	if err := stop(); err != nil {
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
	a, b := newStreamWithTopics(ctx, t, cfg), newStream(t, cfg)
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

	if got := follow(newStream(t, cfg), 5); len(got) != 5 {
		t.Errorf("a restarted process applied %d decisions (%v), want all 5", len(got), got)
	}
}

// TestFollowDecisionsReplicatesNetworkLocks: a spray rotating over one
// /24, scored by one instance, sets a network lock (network_spray); an
// instance that only follows the decisions topic learns it, signed as
// every lock is, and its status of another address of the /24 lists it.
func TestFollowDecisionsReplicatesNetworkLocks(t *testing.T) {
	ctx, cfg := groupTestConfig(t, 3*time.Minute, 1) // one partition: the spray in event order, a late attempt does not count those after it
	ins := createInstances(ctx, t, cfg, "scorer", "follower")
	scorer, follower := ins[0], ins[1]
	scorer.run(ctx, t)
	follower.follow(ctx, t, time.Now().Add(-24*time.Hour))
	waitForStableGroup(ctx, t, cfg.Brokers, cfg.GroupID, 1, cfg.Partitions)

	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var evs []schemas.LoginEvent
	for i := range 20 {
		evs = append(evs, schemas.LoginEvent{EventID: fmt.Sprintf("spray-%d", i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: fmt.Sprintf("victim%d", i),
			Outcome: schemas.OutcomeFailure, IP: fmt.Sprintf("198.51.100.%d", 10+i%8), FailureReason: "bad_password"})
	}
	produceEvents(ctx, t, cfg, evs...)

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
