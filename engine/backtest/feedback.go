package backtest

import (
	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/schemas"
)

// Feedback is an event's latest analyst label with the decision recorded
// for it (the ClickHouse feedback table joined with the history).
type Feedback struct {
	EventID  string
	Label    schemas.FeedbackLabel
	Decision schemas.Verdict // "" when the history lacks the event
}

// LabelsFromFeedback turns analysts' labels into labels for precision and
// recall: a confirmed_attack is an attack, a false_positive is genuine, and
// an expected decision was right, so the event is an attack when it was
// challenged or refused and genuine when it was allowed (an expected label
// without a recorded decision is left out). The kind is the label (and
// the decision, for expected).
func LabelsFromFeedback(fb []Feedback) eval.Labels {
	out := make(eval.Labels, len(fb))
	for _, f := range fb {
		l := loadgen.Label{EventID: f.EventID, Kind: string(f.Label)}
		switch f.Label {
		case schemas.LabelConfirmedAttack:
			l.Attack = true
		case schemas.LabelFalsePositive:
		case schemas.LabelExpected:
			if f.Decision == "" {
				continue
			}
			l.Attack = f.Decision != schemas.VerdictAllow
			l.Kind += "_" + string(f.Decision)
		default:
			continue
		}
		out[f.EventID] = l
	}
	return out
}
