package engine_test

import (
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestFeedSeesEveryRecordedDecisionOnce checks that the engine feeds its
// Feed with each scored event (features included) and leaves dry runs and
// duplicates out, and that it keeps no feed unless asked.
func TestFeedSeesEveryRecordedDecisionOnce(t *testing.T) {
	rm, err := rules.NewManager(rules.ManagerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.New(engine.Config{Rules: rm, State: testkit.Store(t), FeedSize: -1}); err == nil {
		t.Error("a negative feed size was accepted")
	}
	if eng := newTestEngine(t, 0); eng.Feed() != nil {
		t.Error("an engine without FeedSize keeps a feed")
	}
	eng, _ := testkit.Engine(t, "", engine.Config{Rules: rm, FeedSize: 8})
	score := func(id string, dryRun bool) {
		t.Helper()
		if _, err := eng.Score(loginEvent(t, id, "ivan", "198.51.100.50", coreT0, schemas.OutcomeFailure), dryRun); err != nil {
			t.Fatal(err)
		}
	}
	score("e1", false)
	score("e1", false) // a duplicate
	score("e2", true)  // a dry run
	score("e3", false)
	got := eng.Feed().Recent(10, nil)
	if len(got) != 2 || got[0].Decision.EventID != "e3" || got[1].Decision.EventID != "e1" {
		t.Fatalf("the feed holds %d decisions, want e3 then e1", len(got))
	}
	if got[0].Features.Network != "198.51.100.0/24" || !got[0].Features.Failure {
		t.Errorf("the feed's features %+v lack the event's network and outcome", got[0].Features)
	}
}
