package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// stateOnly exposes only the State port of a store, so that the engine
// cannot find its other ports by type assertion.
type stateOnly struct{ engine.State }

// The status counters come from Config.Counters: a state that is only a
// State gives none unless the counters are passed explicitly.
func TestConfigCounters(t *testing.T) {
	for _, tc := range []struct {
		name         string
		withCounters bool
	}{{"counters passed", true}, {"no counters", false}} {
		t.Run(tc.name, func(t *testing.T) {
			store := testkit.Store(t)
			cfg := engine.Config{State: stateOnly{store}}
			if tc.withCounters {
				cfg.Counters = store
			}
			eng, _ := testkit.Engine(t, "", cfg)
			for i := range 3 {
				ev := loginEvent(t, fmt.Sprintf("e%d", i), "alice", "198.51.100.7", coreT0.Add(time.Duration(i)*time.Second), schemas.OutcomeFailure)
				if _, err := eng.Score(ev, false); err != nil {
					t.Fatal(err)
				}
			}
			got := eng.UserStatus("", "alice", coreT0.Add(time.Minute)).Counters
			if tc.withCounters && len(got) == 0 {
				t.Errorf("no counters with Config.Counters set")
			}
			if !tc.withCounters && len(got) != 0 {
				t.Errorf("counters %v without Config.Counters and a state that reads none", got)
			}
		})
	}
}
