package kafkastream

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestFeedbackReachesEveryInstance: two instances in one group; the one
// that scored a brute force takes an analyst's labels. Its false_positive
// lifts the lock on the other instance too (the signed lift), and its
// confirmed_attack on another attempt marks the network hostile there
// (the signed feedback record), through the real decisions topic.
func TestFeedbackReachesEveryInstance(t *testing.T) {
	ctx, cfg := groupTestConfig(t, 3*time.Minute, 2)
	ins := startInstances(ctx, t, cfg, "a", "b")
	a, b := ins[0], ins[1]

	user, ip := "kim@example.com", "203.0.113.66"
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var evs []schemas.LoginEvent
	for i := range 5 {
		evs = append(evs, schemas.LoginEvent{EventID: fmt.Sprintf("fbk-%d", i), OccurredAt: start.Add(time.Duration(i) * time.Minute), UserID: user,
			Outcome: schemas.OutcomeFailure, IP: ip, FailureReason: "bad_password", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"})
	}
	produceEvents(ctx, t, cfg, evs...)

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
