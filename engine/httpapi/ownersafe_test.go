package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestOwnerSafeLockOverHTTP: through POST /v1/score and GET
// /v1/users/{id}/status, every answer checked against the OpenAPI
// document, an attack on one account from ten addresses sets a
// user_untrusted lock; the owner's login from home on her laptop is
// challenged with a trusted_context reason saying since when; the status
// shows the lock's scope and the trusted contexts; a new context is
// refused; an administrator can lift the lock by its scope.
func TestOwnerSafeLockOverHTTP(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := newConformance(t)
	const user, home = "alice@example.com", "81.2.69.160"
	n := 0
	score := func(at time.Time, ip, device, outcome string) schemas.Decision {
		t.Helper()
		n++
		m := map[string]any{"event_id": fmt.Sprintf("os-%d", n), "user_id": user, "ip": ip, "outcome": outcome,
			"occurred_at": at.Format(time.RFC3339), "user_agent": browserUA, "auth_method": "password"}
		if device != "" {
			m["device_id"] = device
		}
		if outcome == "failure" {
			m["failure_reason"] = "bad_password"
		}
		body, _ := json.Marshal(m)
		resp := c.exchange(f, request{method: "POST", path: "/v1/score", token: scoreToken, body: body}, 200, true)
		var d schemas.Decision
		if err := json.Unmarshal(resp.body, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	since := testNow.Add(-23 * time.Hour) // the oldest the fixture's clock-skew policy accepts
	if d := score(since, home, "alice-laptop", "success"); d.Decision != schemas.VerdictAllow {
		t.Fatalf("first login: %s %+v", d.Decision, d.Reasons)
	}
	var d schemas.Decision
	for i := range 10 {
		d = score(testNow.Add(time.Duration(i-12)*time.Minute), fmt.Sprintf("198.51.%d.7", 100+i), "", "failure")
	}
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserUntrusted || d.Lock.Key != user {
		t.Fatalf("tenth failure from the tenth address: %s %+v, want a user_untrusted lock on %s", d.Decision, d.Lock, user)
	}

	owner := score(testNow.Add(-2*time.Minute), home, "alice-laptop", "success")
	if owner.Decision != schemas.VerdictChallenge || owner.Lock == nil || owner.Lock.Scope != schemas.ScopeUserUntrusted {
		t.Errorf("the owner at home on her laptop: %s %+v %+v, want a challenge showing the user_untrusted lock it met", owner.Decision, owner.Lock, owner.Reasons)
	}
	found := false
	for _, r := range owner.Reasons {
		found = found || (r.Rule == schemas.ReasonTrustedContext && strings.Contains(r.Detail, "user_untrusted lock on "+user) &&
			strings.Contains(r.Detail, "device alice-laptop trusted since "+since.Format(time.RFC3339)))
	}
	if !found {
		t.Errorf("owner's reasons %+v lack a trusted_context reason naming the lock and the device since %s", owner.Reasons, since.Format(time.RFC3339))
	}

	resp := c.exchange(f, request{method: "GET", path: "/v1/users/" + user + "/status", token: readToken}, 200, true)
	var st engine.Status
	if err := json.Unmarshal(resp.body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Locks) != 1 || st.Locks[0].Scope != schemas.ScopeUserUntrusted || st.Locks[0].Rule != "distributed_bruteforce" {
		t.Errorf("status locks %+v, want the user_untrusted lock by distributed_bruteforce", st.Locks)
	}
	want := []schemas.TrustedContext{
		{Kind: "device", Key: "alice-laptop", FirstSeen: since, LastSeen: since},
		{Kind: "network", Key: "81.2.69.0/24", FirstSeen: since, LastSeen: since},
	}
	if len(st.Trusted) != len(want) || st.Trusted[0] != want[0] || st.Trusted[1] != want[1] {
		t.Errorf("status trusted %+v, want %+v (the challenged login teaches nothing)", st.Trusted, want)
	}

	if d := score(testNow.Add(-time.Minute), "203.0.113.50", "new-phone", "success"); d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserUntrusted {
		t.Errorf("a new context during the attack: %s %+v, want refused by the user_untrusted lock", d.Decision, d.Lock)
	}

	c.exchange(f, request{method: "DELETE", path: "/v1/locks/user_untrusted/" + user, token: adminToken}, 200, true)
	resp = c.exchange(f, request{method: "GET", path: "/v1/users/" + user + "/status", token: readToken}, 200, true)
	st = engine.Status{}
	if err := json.Unmarshal(resp.body, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Locks) != 0 {
		t.Errorf("after the lift: locks %+v, want none", st.Locks)
	}
}
