package engine

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// keptAddresses is an AddressPublisher that keeps what it is handed.
type keptAddresses struct{ kept []schemas.AddressAttempt }

func (k *keptAddresses) PublishAddress(a *schemas.AddressAttempt) { k.kept = append(k.kept, *a) }

// TestShareAddresses: the engine shares the address side of each attempt
// it scores, once: not of a duplicate, a dry run or the warm-up's replay
// (history holds every instance's attempts already). Another instance's
// engine counts what was shared in its address state, and only there.
func TestShareAddresses(t *testing.T) {
	newEngine := func(shared *keptAddresses) (*Engine, *state.Store) {
		var cfg Config
		if shared != nil {
			cfg.Addresses = shared
		}
		return newTestEngine(t, "", cfg)
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	failure := func(id, user string) *schemas.LoginEvent {
		ev := &schemas.LoginEvent{EventID: id, OccurredAt: t0, UserID: user, IP: "198.51.100.7", Outcome: schemas.OutcomeFailure, FailureReason: "bad_password"}
		if err := schemas.Validate(ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	shared := &keptAddresses{}
	eng, _ := newEngine(shared)
	var history []schemas.ScoredEvent
	for i := range 4 {
		ev := failure(fmt.Sprintf("share-%d", i), fmt.Sprintf("user-%d", i))
		ev.OccurredAt = t0.Add(time.Duration(i) * time.Second)
		out, err := eng.Score(ev, false)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, out.ScoredEvent)
	}
	if _, err := eng.Score(failure("share-0", "user-0"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Score(failure("share-dry", "user-9"), true); err != nil {
		t.Fatal(err)
	}
	if len(shared.kept) != 4 {
		t.Fatalf("%d attempts shared, want the 4 scored (no duplicate, no dry run)", len(shared.kept))
	}

	warmShared := &keptAddresses{}
	warm, _ := newEngine(warmShared)
	if _, err := warm.WarmUp(context.Background(), &sliceHistory{events: history}); err != nil {
		t.Fatal(err)
	}
	if len(warmShared.kept) != 0 {
		t.Errorf("the warm-up shared %d attempts, want none", len(warmShared.kept))
	}

	other, otherStore := newEngine(nil)
	for i := range shared.kept {
		other.ObserveAddress(&shared.kept[i])
	}
	at := t0.Add(4 * time.Second)
	ip := otherStore.IPCounters(netip.MustParseAddr("198.51.100.7"), at)
	if ip.Get("ip_failures_10m") != 4 || ip.Get("ip_distinct_users_10m") != 4 {
		t.Errorf("the other instance counts %v failures by %v users from the address, want 4 by 4", ip.Get("ip_failures_10m"), ip.Get("ip_distinct_users_10m"))
	}
	if u := otherStore.UserCounters("", "user-0", at); u.Get("user_failures_24h") != 0 {
		t.Errorf("the other instance counts %v failures of user-0, want 0: users stay on their instance", u.Get("user_failures_24h"))
	}
}
