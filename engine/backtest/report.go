package backtest

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// NoLabels is what the report says about precision and recall without a
// labels file or stored analyst feedback.
const NoLabels = "Precision and recall: no --labels file given, and no analyst feedback to measure against " +
	"(the ClickHouse feedback table, read with --clickhouse-dsn, has no labels)."

// Write prints the result for a person deciding whether to switch the new
// rules on.
func (r *Result) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "base rules %s, new rules %s: %d events scored by both\n", r.BaseVersion, r.NewVersion, r.Events)
	fmt.Fprintf(&b, "%d decisions change (%.2f %%)\n", r.Changed, 100*ratio(r.Changed, r.Events))
	for _, t := range sortedTransitions(r.Transitions) {
		fmt.Fprintf(&b, "  %-9s -> %-9s %d\n", t.From, t.To, r.Transitions[t])
	}
	if len(r.Rules) > 0 {
		b.WriteString("\nCauses (a rule that matched on one side only or with another weight; \"locked by RULE\": an earlier lock; \"policy\": same reasons, other thresholds):\n")
	}
	rules := make([]*RuleChange, 0, len(r.Rules))
	for _, rc := range r.Rules {
		rules = append(rules, rc)
	}
	slices.SortFunc(rules, func(x, y *RuleChange) int {
		return cmp.Or(cmp.Compare(y.Events, x.Events), cmp.Compare(x.Rule, y.Rule))
	})
	for _, rc := range rules {
		var ts []string
		for _, t := range sortedTransitions(rc.Transitions) {
			ts = append(ts, fmt.Sprintf("%s -> %s %d", t.From, t.To, rc.Transitions[t]))
		}
		fmt.Fprintf(&b, "  %s: %d events (%s)\n", rc.Rule, rc.Events, strings.Join(ts, ", "))
		for _, ex := range rc.Examples {
			fmt.Fprintf(&b, "    e.g. %s user %s ip %s: %s (score %d) -> %s (score %d)\n",
				ex.EventID, ex.UserID, ex.IP, ex.From, ex.FromScore, ex.To, ex.ToScore)
		}
	}
	b.WriteByte('\n')
	if !r.Labelled {
		b.WriteString(NoLabels + "\n")
	} else {
		fmt.Fprintf(&b, "Against the labels (%d labelled events; flagged = challenged or refused):\n", r.LabelledEvents)
		for _, side := range []struct {
			name string
			q    Quality
		}{{"base", r.Base}, {"new", r.New}} {
			fmt.Fprintf(&b, "  %-4s precision %.4f recall %.4f (true positives %d, false positives %d, missed attacks %d)\n",
				side.name, side.q.Precision(), side.q.Recall(), side.q.TruePositives, side.q.FalsePositives, side.q.FalseNegatives)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedTransitions(m map[Transition]int) []Transition {
	out := make([]Transition, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y Transition) int {
		return cmp.Or(cmp.Compare(x.From.Severity(), y.From.Severity()), cmp.Compare(x.To.Severity(), y.To.Severity()))
	})
	return out
}
