package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestTenantStatusAndLift: a lock on acme's bob shows in his status
// (?tenant=acme) and not in globex's bob's or the default tenant's bob's,
// does not refuse globex's bob, and is lifted with ?tenant=acme only.
func TestTenantStatusAndLift(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	const ip = "198.51.100.40"
	var d schemas.Decision
	for i := range 5 {
		d = f.score(event{id: fmt.Sprintf("acme-bf-%d", i), user: "bob", ip: ip, outcome: "failure", tenant: "acme",
			at: testNow.Add(time.Duration(i-5) * time.Minute)}, false)
	}
	want := schemas.Lock{Scope: schemas.ScopeUserIP, Key: "bob|" + ip, TenantID: "acme", Until: testNow.Add(9 * time.Minute), Rule: "failure_burst"}
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || *d.Lock != want {
		t.Fatalf("acme's bob, fifth failure: %s lock %+v, want %+v", d.Decision, d.Lock, want)
	}
	if g := f.score(event{id: "globex-1", user: "bob", ip: ip, tenant: "globex"}, false); g.Decision != schemas.VerdictAllow {
		t.Errorf("globex's bob from the same address: %s %+v, want allow", g.Decision, g.Reasons)
	}
	tests := []struct {
		name, query string
		locks       int
		failures    float64
	}{
		{"acme's bob", "?tenant=acme", 1, 5},
		{"globex's bob", "?tenant=globex", 0, 0},
		{"the default tenant's bob", "", 0, 0},
		{"the default tenant's bob, said explicitly", "?tenant=", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(request{method: "GET", path: "/v1/users/bob/status" + tt.query, token: readToken})
			if resp.code != 200 {
				t.Fatalf("status: %d %s", resp.code, resp.body)
			}
			var st struct {
				Locks    []schemas.Lock     `json:"locks"`
				Counters map[string]float64 `json:"counters"`
			}
			if err := json.Unmarshal(resp.body, &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Locks) != tt.locks || st.Counters["user_failures_15m"] != tt.failures {
				t.Errorf("locks %+v, %v failures; want %d locks, %v failures", st.Locks, st.Counters["user_failures_15m"], tt.locks, tt.failures)
			}
			if tt.locks > 0 && st.Locks[0] != want {
				t.Errorf("lock %+v, want %+v", st.Locks[0], want)
			}
		})
	}
	// The console's user view is the tenant's user's too.
	for _, tt := range []struct {
		query string
		locks int
	}{{"?tenant=acme", 1}, {"", 0}, {"?tenant=globex", 0}} {
		resp := f.do(request{method: "GET", path: "/v1/console/users/bob" + tt.query, token: readToken})
		var v struct {
			Status struct {
				Locks []schemas.Lock `json:"locks"`
			} `json:"status"`
		}
		if resp.code != 200 || json.Unmarshal(resp.body, &v) != nil || len(v.Status.Locks) != tt.locks {
			t.Errorf("console user view %q: %d %s, want %d locks", tt.query, resp.code, resp.body, tt.locks)
		}
	}
	lift := func(query string) response {
		return f.do(request{method: "DELETE", path: "/v1/locks/user_ip/bob%7C" + ip + query, token: adminToken})
	}
	for _, query := range []string{"?tenant=globex", ""} {
		if resp := lift(query); resp.code != 404 {
			t.Errorf("lift %q: %d %s, want 404", query, resp.code, resp.body)
		}
	}
	resp := lift("?tenant=acme")
	if resp.code != 200 {
		t.Fatalf("lift of acme's bob: %d %s", resp.code, resp.body)
	}
	var rec schemas.Decision
	if err := json.Unmarshal(resp.body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Lock == nil || rec.Lock.TenantID != "acme" || rec.Lock.Key != want.Key || rec.UserID != "bob" {
		t.Errorf("lift record %+v lock %+v, want acme's bob's lock", rec, rec.Lock)
	}
	if resp := f.do(request{method: "GET", path: "/v1/users/bob/status?tenant=acme", token: readToken}); !strings.Contains(string(resp.body), `"locks":[]`) {
		t.Errorf("after the lift: %s, want no locks", resp.body)
	}
}

// TestTenantParamBadInput: a bad tenant is a 400 naming tenant.
func TestTenantParamBadInput(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct{ name, method, path, token string }{
		{"control character", "GET", "/v1/users/bob/status?tenant=ac%01me", readToken},
		{"too long", "GET", "/v1/users/bob/status?tenant=" + strings.Repeat("t", schemas.MaxTenantIDLen+1), readToken},
		{"given twice", "GET", "/v1/users/bob/status?tenant=acme&tenant=globex", readToken},
		{"on a lift of an ip lock", "DELETE", "/v1/locks/ip/192.0.2.1?tenant=acme", adminToken},
		{"on a lift, not utf-8", "DELETE", "/v1/locks/user/bob?tenant=%FF", adminToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(request{method: tt.method, path: tt.path, token: tt.token})
			resp.expect(t, 400)
			resp.expectField(t, "tenant")
		})
	}
}
