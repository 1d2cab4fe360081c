package backtest

import (
	"reflect"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestCauses(t *testing.T) {
	reason := func(rule string, w int) schemas.Reason { return schemas.Reason{Rule: rule, Weight: w} }
	locked := schemas.Reason{Rule: schemas.ReasonLocked, Detail: "user_ip lock on bob|192.0.2.1 until 2026-11-02T09:10:00Z (set by failure_burst)"}
	tests := []struct {
		name string
		b, n []schemas.Reason
		want []string
	}{
		{"a rule added", []schemas.Reason{reason("a", 30)}, []schemas.Reason{reason("a", 30), reason("b", 40)}, []string{"b"}},
		{"a rule removed", []schemas.Reason{reason("a", 30), reason("b", 40)}, []schemas.Reason{reason("a", 30)}, []string{"b"}},
		{"a weight raised", []schemas.Reason{reason("a", 30), reason("b", 15)}, []schemas.Reason{reason("a", 70), reason("b", 15)}, []string{"a"}},
		{"an earlier lock", nil, []schemas.Reason{locked}, []string{"locked by failure_burst"}},
		{"same reasons: the policy", []schemas.Reason{reason("a", 30)}, []schemas.Reason{reason("a", 30)}, []string{"policy"}},
		{"several, sorted", []schemas.Reason{reason("z", 1)}, []schemas.Reason{reason("c", 1), reason("a", 1)}, []string{"a", "c", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := causes(&schemas.Decision{Reasons: tt.b}, &schemas.Decision{Reasons: tt.n})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("causes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQuality(t *testing.T) {
	var q Quality
	for _, c := range []struct {
		attack bool
		v      schemas.Verdict
	}{
		{true, schemas.VerdictLockout}, {true, schemas.VerdictChallenge}, {true, schemas.VerdictAllow},
		{false, schemas.VerdictChallenge}, {false, schemas.VerdictAllow}, {false, schemas.VerdictAllow},
	} {
		q.add(c.attack, c.v)
	}
	if q != (Quality{TruePositives: 2, FalseNegatives: 1, FalsePositives: 1, TrueNegatives: 2}) {
		t.Fatalf("quality %+v", q)
	}
	if p, r := q.Precision(), q.Recall(); p != 2.0/3 || r != 2.0/3 {
		t.Errorf("precision %g recall %g, want 2/3 each", p, r)
	}
	if (Quality{}).Precision() != 0 || (Quality{}).Recall() != 0 {
		t.Error("empty quality is not 0")
	}
}
