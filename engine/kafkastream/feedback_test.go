package kafkastream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestFeedbackReachesEveryInstance: two instances in one group; the one
// that scored a brute force takes an analyst's labels. Its false_positive
// lifts the lock on the other instance too (the signed lift), and its
// confirmed_attack on another attempt marks the network hostile there
// (the signed feedback record), through the real decisions topic.
func TestFeedbackReachesEveryInstance(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		Brokers: brokers, GroupID: testkit.Name("group"), EventsTopic: testkit.Name("events"), DecisionsTopic: testkit.Name("decisions"),
		DLQTopic: testkit.Name("dlq"), Partitions: 2, MaxBatch: 50, DrainTimeout: 5 * time.Second, DecisionKeys: testDecisionKeys,
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

	user, ip := "kim@example.com", "203.0.113.66"
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	writer := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cfg.EventsTopic, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	var msgs []kafka.Message
	for i := range 5 {
		ev := schemas.LoginEvent{EventID: fmt.Sprintf("fbk-%d", i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: user,
			Outcome: schemas.OutcomeFailure, IP: ip, FailureReason: "bad_password", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}
		value, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(user), Value: value})
	}
	testkit.Produce(ctx, t, writer, msgs...)

	at := start.Add(5 * time.Minute)
	locked := func(in *instance) bool { return len(in.eng.UserStatus("", user, at).Locks) > 0 }
	waitFor(t, "the lock on both instances", func() bool { return locked(a) && locked(b) })
	scorer, other := a, b
	if _, ok := b.eng.Decision("fbk-4"); ok {
		scorer, other = b, a
	}

	if _, err := scorer.eng.Feedback(ctx, schemas.Feedback{EventID: "fbk-4", At: at, Label: schemas.LabelFalsePositive, Actor: "soc"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lift on the other instance", func() bool { return !locked(other) })

	hostile := func(in *instance) bool {
		ev := &schemas.LoginEvent{EventID: "probe-" + in.name, OccurredAt: at.Add(time.Hour), UserID: "someone", Outcome: schemas.OutcomeSuccess,
			IP: "203.0.113.200", Addr: netip.MustParseAddr("203.0.113.200")}
		sc, err := in.eng.Score(ev, true)
		return err == nil && sc.Features.NetworkHostile
	}
	if hostile(other) {
		t.Fatal("the network is hostile before any label")
	}
	if _, err := scorer.eng.Feedback(ctx, schemas.Feedback{EventID: "fbk-3", At: at.Add(time.Second), Label: schemas.LabelConfirmedAttack, Actor: "soc"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hostile network on the other instance", func() bool { return hostile(other) })
}
