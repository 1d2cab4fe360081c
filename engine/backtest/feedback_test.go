package backtest

import (
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestLabelsFromFeedback(t *testing.T) {
	got := LabelsFromFeedback([]Feedback{
		{"a", schemas.LabelConfirmedAttack, schemas.VerdictAllow},
		{"b", schemas.LabelFalsePositive, schemas.VerdictLockout},
		{"c", schemas.LabelExpected, schemas.VerdictChallenge},
		{"d", schemas.LabelExpected, schemas.VerdictAllow},
		{"e", schemas.LabelExpected, ""},
		{"f", "fine", schemas.VerdictAllow},
	})
	want := map[string]bool{"a": true, "b": false, "c": true, "d": false}
	if len(got) != len(want) {
		t.Fatalf("labels %+v, want %v", got, want)
	}
	for id, attack := range want {
		if l, ok := got[id]; !ok || l.Attack != attack {
			t.Errorf("%s: %+v, want attack %v", id, l, attack)
		}
	}
}
