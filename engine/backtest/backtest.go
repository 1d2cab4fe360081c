// Package backtest scores the same events with two rule sets in one pass
// and reports what the change would do: which decisions change, from what
// to what, because of which rules, and how precision and recall move
// against labels. Both sides go through the offline (replay) path with
// their own state, so each behaves exactly as it would have live.
package backtest

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// MaxExamples is how many example events the report keeps per rule.
const MaxExamples = 3

// Transition is a decision's change from the base verdict to the new one.
type Transition struct{ From, To schemas.Verdict }

// Example is one changed decision.
type Example struct {
	EventID, UserID, IP string
	From, To            schemas.Verdict
	FromScore, ToScore  int
}

// RuleChange is what one rule (or "locked by RULE", or "policy") changed.
type RuleChange struct {
	Rule        string
	Events      int // changed decisions it is a cause of
	Transitions map[Transition]int
	Examples    []Example
}

// Quality is one side's precision and recall against labels: an attempt
// is flagged when challenged or refused.
type Quality struct {
	TruePositives, FalsePositives, FalseNegatives, TrueNegatives int
}

// Precision is TP / (TP + FP), or 0 with nothing flagged.
func (q Quality) Precision() float64 { return ratio(q.TruePositives, q.TruePositives+q.FalsePositives) }

// Recall is TP / (TP + FN), or 0 without attacks.
func (q Quality) Recall() float64 { return ratio(q.TruePositives, q.TruePositives+q.FalseNegatives) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Result is a backtest's outcome.
type Result struct {
	BaseVersion, NewVersion string
	Events                  int // scored by both sides
	Changed                 int
	Transitions             map[Transition]int
	Rules                   map[string]*RuleChange
	// Labelled says whether labels were given; Base and New are then
	// the two sides' quality over the Labelled events.
	Labelled       bool
	LabelledEvents int
	Base, New      Quality
}

// Run scores every event of src with base and next, each with its own
// engine and state, and compares their decisions. labels may be nil.
func Run(ctx context.Context, src offline.Source, base, next offline.Lane, labels eval.Labels) (*Result, error) {
	r := &Result{
		BaseVersion: base.Engine.RulesVersion(), NewVersion: next.Engine.RulesVersion(),
		Transitions: map[Transition]int{}, Rules: map[string]*RuleChange{}, Labelled: labels != nil,
	}
	st, err := offline.Run(ctx, src, []offline.Lane{base, next}, func(ev *schemas.LoginEvent, out []engine.Scored) error {
		if out[0].Duplicate {
			return nil
		}
		b, n := out[0].Decision, out[1].Decision
		if l, ok := labels[ev.EventID]; ok {
			r.LabelledEvents++
			r.Base.add(l.Attack, b.Decision)
			r.New.add(l.Attack, n.Decision)
		}
		if b.Decision == n.Decision {
			return nil
		}
		r.Changed++
		t := Transition{b.Decision, n.Decision}
		r.Transitions[t]++
		ex := Example{EventID: ev.EventID, UserID: ev.UserID, IP: ev.IP, From: b.Decision, To: n.Decision, FromScore: b.Score, ToScore: n.Score}
		for _, cause := range causes(b, n) {
			rc := r.Rules[cause]
			if rc == nil {
				rc = &RuleChange{Rule: cause, Transitions: map[Transition]int{}}
				r.Rules[cause] = rc
			}
			rc.Events++
			rc.Transitions[t]++
			if len(rc.Examples) < MaxExamples {
				rc.Examples = append(rc.Examples, ex)
			}
		}
		return nil
	})
	r.Events = st.Events
	return r, err
}

func (q *Quality) add(attack bool, v schemas.Verdict) {
	flagged := v != schemas.VerdictAllow
	switch {
	case attack && flagged:
		q.TruePositives++
	case attack:
		q.FalseNegatives++
	case flagged:
		q.FalsePositives++
	default:
		q.TrueNegatives++
	}
}

// causes names what differs between two decisions of one event: each rule
// that matched on one side only or with another weight, and "locked by
// RULE" for an active lock on one side only. When the reasons are the
// same, the policy (thresholds) made the difference.
func causes(b, n *schemas.Decision) []string {
	bw, nw := reasonWeights(b), reasonWeights(n)
	var out []string
	for rule := range keysOf(bw, nw) {
		w1, ok1 := bw[rule]
		w2, ok2 := nw[rule]
		if ok1 != ok2 || w1 != w2 {
			out = append(out, rule)
		}
	}
	if len(out) == 0 {
		return []string{"policy"}
	}
	slices.Sort(out)
	return out
}

// reasonWeights maps each reason of a decision to its weight; the
// "locked" reason is named after the rule that set the lock, which its
// detail ends with: "… (set by RULE)".
func reasonWeights(d *schemas.Decision) map[string]int {
	m := make(map[string]int, len(d.Reasons))
	for _, r := range d.Reasons {
		name := r.Rule
		if name == schemas.ReasonLocked {
			name = "locked"
			if i := strings.LastIndex(r.Detail, "(set by "); i >= 0 {
				name = "locked by " + strings.TrimSuffix(r.Detail[i+len("(set by "):], ")")
			}
		}
		m[name] = r.Weight
	}
	return m
}

func keysOf(a, b map[string]int) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range maps.Keys(a) {
		out[k] = true
	}
	for k := range maps.Keys(b) {
		out[k] = true
	}
	return out
}
