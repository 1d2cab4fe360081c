package schemas

import (
	"encoding/json"
	"testing"
	"time"
)

func TestEncodeDecisionMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		d    Decision
	}{
		{"allow, empty reasons", Decision{EventID: "e1", UserID: "alice", IP: "81.2.69.160", OccurredAt: at, DecidedAt: at, Decision: VerdictAllow, Reasons: []Reason{}, RulesVersion: "v1"}},
		{"nil reasons", Decision{EventID: "e1", Decision: VerdictAllow, OccurredAt: at, DecidedAt: at}},
		{"lockout with lock, reasons and shadow", Decision{EventID: "e2", UserID: "bob", IP: "2a02:db8::1", OccurredAt: at, DecidedAt: at.Add(time.Second), Score: 70, Decision: VerdictLockout,
			Lock:    &Lock{Scope: ScopeUserIP, Key: "bob|2a02:db8::/64", Until: at.Add(10 * time.Minute), Rule: "failure_burst"},
			Reasons: []Reason{{Rule: "failure_burst", Weight: 40, Detail: "5 failures in 15 min"}, {Rule: "x", Weight: -5}},
			Shadow:  []ShadowHit{{Rule: "s", Weight: 3}}, RulesVersion: "abc"}},
		{"escaping", Decision{EventID: "q\"\\<>&\n\t\x01\u2028é\xff", UserID: "日本", Decision: VerdictChallenge, OccurredAt: at.In(time.FixedZone("x", 3600)), DecidedAt: at, Reasons: []Reason{}}},
		{"lock of a tenant's user", Decision{EventID: "e4", UserID: "bob", Decision: VerdictLockout, Lock: &Lock{Scope: ScopeUser, Key: "bob", TenantID: "acme", Until: at, Rule: "r"}, Reasons: []Reason{}}},
		{"feedback record", Decision{EventID: "feedback-e1", UserID: "bob", IP: "81.2.69.160", Decision: VerdictAllow, Reasons: []Reason{{Rule: "analyst_feedback", Detail: "false_positive by soc"}},
			Feedback: &FeedbackContext{Label: LabelFalsePositive, EventID: "e1", TenantID: "acme", Network: "81.2.69.0/24", DeviceID: "d<1>"}}},
		{"feedback record, default tenant, no device", Decision{EventID: "feedback-e2", Decision: VerdictAllow, Reasons: []Reason{},
			Feedback: &FeedbackContext{Label: LabelConfirmedAttack, EventID: "e2", Network: "2a02:db8::/64"}}},
		{"lock without rule", Decision{EventID: "e3", Decision: VerdictLockout, Lock: &Lock{Scope: ScopeIP, Key: "1.2.3.4", Until: at}, Reasons: []Reason{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(&tt.d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := EncodeDecision(nil, &tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("EncodeDecision:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func BenchmarkEncodeDecision(b *testing.B) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d := Decision{EventID: "evt-000000001", UserID: "user-12345", IP: "81.2.69.160", OccurredAt: at, DecidedAt: at, Score: 70, Decision: VerdictLockout,
		Lock:    &Lock{Scope: ScopeUserIP, Key: "user-12345|81.2.69.160", Until: at.Add(10 * time.Minute), Rule: "failure_burst"},
		Reasons: []Reason{{Rule: "failure_burst", Weight: 40, Detail: "5 failures in 15 min"}}, RulesVersion: "0123456789ab"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = EncodeDecision(buf[:0], &d)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(validEvent)
	var ev LoginEvent
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
