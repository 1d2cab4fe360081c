package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// fixedRules is a RuleSource that always hands out one set.
type fixedRules struct{ set *rules.Set }

func (f fixedRules) Current() *rules.Set { return f.set }

// RunRuleTest runs one rule test case: a features case through the rule
// set alone, an events case through a fresh engine (its own state, the
// given enricher, event-time clock) so that the features come from real
// state. It returns nil when the case passes, else an error naming the
// case's file, line and every difference.
func RunRuleTest(set *rules.Set, tc rules.TestCase, enricher Enricher) error {
	if tc.Features != nil {
		return rules.RunFeatureCase(set, tc)
	}
	store, err := state.NewStore(state.StoreConfig{})
	if err != nil {
		return err
	}
	eng, err := New(Config{Rules: fixedRules{set}, Enricher: enricher, State: store})
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s:%d: %s", tc.File, tc.Line, tc.Name)
	var problems []string
	for i, te := range tc.Events {
		ev := te.LoginEvent(fmt.Sprintf("case-event-%d", i+1))
		if err := schemas.Validate(&ev); err != nil {
			return fmt.Errorf("%s: event at line %d: %w", where, te.Line, err)
		}
		out, err := eng.Score(&ev, false)
		if err != nil {
			return fmt.Errorf("%s: event at line %d: %w", where, te.Line, err)
		}
		var want *rules.Expectation
		switch {
		case tc.ExpectEach != nil && i < len(tc.ExpectEach):
			want = &tc.ExpectEach[i]
		case tc.ExpectEach == nil && i == len(tc.Events)-1:
			want = tc.Expect
		}
		if want == nil {
			continue
		}
		if err := want.Check(out.Decision); err != nil {
			problems = append(problems, fmt.Sprintf("event %d (line %d): %v", i+1, te.Line, err))
		}
	}
	if tc.ExpectEach != nil && len(tc.ExpectEach) != len(tc.Events) {
		problems = append(problems, fmt.Sprintf("expect_each has %d entries for %d events", len(tc.ExpectEach), len(tc.Events)))
	}
	if len(problems) > 0 {
		return errors.New(where + ": " + strings.Join(problems, "; "))
	}
	return nil
}
