package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestFeedbackOverHTTP: an analyst's false_positive on a lockout is
// stored with the token's name, lifts the lock (the status shows none,
// and the signed lift is published) and publishes the feedback record
// that trusts the context; the answer says all of it. A label's field
// errors name the field.
func TestFeedbackOverHTTP(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	lockout := f.bruteForce("kim@example.com", "198.51.100.60")
	if lockout.Decision != schemas.VerdictLockout || lockout.Lock == nil {
		t.Fatalf("the brute force did not lock: %+v", lockout)
	}
	path := "/v1/decisions/" + lockout.EventID + "/feedback"
	resp := f.do(request{method: "POST", path: path, token: analystToken, body: []byte(`{"label":"false_positive","note":"kim mistyped"}`)})
	if resp.code != http.StatusOK {
		t.Fatalf("feedback: %d %s", resp.code, resp.body)
	}
	var answer feedbackAnswer
	if err := json.Unmarshal(resp.body, &answer); err != nil {
		t.Fatal(err)
	}
	if answer.Actor != "soc" || answer.Label != schemas.LabelFalsePositive || answer.Decision == nil || answer.Decision.EventID != lockout.EventID {
		t.Errorf("answer %+v", answer)
	}
	if answer.Lifted == nil || answer.Lifted.Lock == nil || answer.Lifted.Lock.Rule != engine.AdminLiftRule {
		t.Errorf("answer's lift %+v", answer.Lifted)
	}
	if answer.Record == nil || answer.Record.Feedback == nil || answer.Record.Feedback.Network != "198.51.100.0/24" {
		t.Errorf("answer's record %+v", answer.Record)
	}
	if got := f.labels.all(); len(got) != 1 || got[0].Actor != "soc" || got[0].Note != "kim mistyped" || got[0].EventID != lockout.EventID {
		t.Errorf("stored labels %+v", got)
	}
	if st := f.do(request{method: "GET", path: "/v1/users/kim@example.com/status", token: analystToken}); st.code != http.StatusOK || containsLock(t, st.body) {
		t.Errorf("kim's status after the false positive: %d %s", st.code, st.body)
	}
	if got := f.published.find(func(d *schemas.Decision) bool { return d.Feedback != nil && d.Feedback.EventID == lockout.EventID }); len(got) != 1 {
		t.Errorf("published feedback records %+v", got)
	}
	if got := f.published.find(func(d *schemas.Decision) bool { return d.Lock != nil && d.Lock.Rule == engine.AdminLiftRule }); len(got) != 1 {
		t.Errorf("published lifts %+v", got)
	}

	for _, tt := range []struct {
		name, body, field string
	}{
		{"label missing", `{"note":"x"}`, "label"},
		{"label unknown", `{"label":"meh"}`, "label"},
		{"label number", `{"label":1}`, "label"},
		{"note control character", `{"label":"expected","note":"a\u0000b"}`, "note"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(request{method: "POST", path: path, token: analystToken, body: []byte(tt.body)})
			if resp.code != http.StatusBadRequest || resp.errorJSON(t).Field != tt.field {
				t.Errorf("%s: %d %s, want 400 naming %s", tt.body, resp.code, resp.body, tt.field)
			}
		})
	}
}

// containsLock reports whether a status answer lists a lock.
func containsLock(t *testing.T, body []byte) bool {
	t.Helper()
	var st struct {
		Locks []json.RawMessage `json:"locks"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return len(st.Locks) > 0
}
