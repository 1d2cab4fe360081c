package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// keptLabels accepts every label.
type keptLabels struct{}

func (keptLabels) RecordFeedback(context.Context, schemas.Feedback) error { return nil }

// historyOf keeps what an engine records, as history would.
type historyOf struct{ h *sliceHistory }

func (w historyOf) WriteHistory(_ context.Context, events []schemas.ScoredEvent) error {
	w.h.events = append(w.h.events, events...)
	return nil
}

// TestWarmUpAppliesFeedback: after a restart, a confirmed attack's network
// is hostile again and its record was not taken for a login of the user
// (the attacker's network stays unknown to him), because the warm-up
// applies feedback records from history instead of observing them.
func TestWarmUpAppliesFeedback(t *testing.T) {
	var history sliceHistory
	before := newGeoEngine(t)
	before.cfg.Recorder = Recorder{History: historyOf{&history}}
	before.cfg.Feedback = keptLabels{}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	score := func(eng *Engine, id, ip string, at time.Time, outcome schemas.Outcome) Scored {
		t.Helper()
		ev := &schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: "bob", IP: ip, Outcome: outcome, FailureReason: badPassword(outcome), UserAgent: laptopUA}
		return mustScore(t, eng, ev, false)
	}
	for i := range 2 {
		out := score(before, fmt.Sprintf("home%d", i), "81.2.69.160", t0.Add(time.Duration(i)*time.Minute), schemas.OutcomeSuccess)
		history.events = append(history.events, out.ScoredEvent)
	}
	attack := score(before, "attack", "90.84.118.42", t0.Add(time.Hour), schemas.OutcomeFailure)
	history.events = append(history.events, attack.ScoredEvent)
	if _, err := before.Feedback(context.Background(), schemas.Feedback{EventID: "attack", At: t0.Add(2 * time.Hour), Label: schemas.LabelConfirmedAttack, Actor: "soc"}); err != nil {
		t.Fatal(err)
	}

	after := newGeoEngine(t)
	if _, err := after.WarmUp(context.Background(), &history); err != nil {
		t.Fatal(err)
	}
	probe := &schemas.LoginEvent{EventID: "probe", OccurredAt: t0.Add(3 * time.Hour), UserID: "bob", IP: "90.84.118.43", Outcome: schemas.OutcomeSuccess, UserAgent: laptopUA}
	out := mustScore(t, after, probe, true)
	if !out.Features.NetworkHostile || !out.Features.NewNetwork {
		t.Errorf("after the restart, bob from the attack's network: network_hostile %v, new_network %v; want both", out.Features.NetworkHostile, out.Features.NewNetwork)
	}
}
