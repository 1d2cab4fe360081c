package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

func TestAuthMatrix(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.score(event{id: "known-event"}, false)
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		token  string
		header string // raw Authorization header, overrides token
		want   int
	}{
		{name: "score without token", method: "POST", path: "/v1/score", body: event{id: "a1"}.json(), want: 401},
		{name: "score with unknown token", method: "POST", path: "/v1/score", body: event{id: "a2"}.json(), token: "not-a-token-0123456789", want: 401},
		{name: "score with a prefix of a token", method: "POST", path: "/v1/score", body: event{id: "a3"}.json(), token: scoreToken[:10], want: 401},
		{name: "score with basic auth", method: "POST", path: "/v1/score", body: event{id: "a4"}.json(), header: "Basic " + scoreToken, want: 401},
		{name: "score with empty bearer", method: "POST", path: "/v1/score", body: event{id: "a5"}.json(), header: "Bearer ", want: 401},
		{name: "score with lower-case scheme", method: "POST", path: "/v1/score", body: event{id: "a6"}.json(), header: "bearer " + scoreToken, want: 200},
		{name: "score by read role", method: "POST", path: "/v1/score", body: event{id: "a7"}.json(), token: readToken, want: 403},
		{name: "score by score role", method: "POST", path: "/v1/score", body: event{id: "a8"}.json(), token: scoreToken, want: 200},
		{name: "score by admin role", method: "POST", path: "/v1/score", body: event{id: "a9"}.json(), token: adminToken, want: 200},
		{name: "user status without token", method: "GET", path: "/v1/users/bob/status", want: 401},
		{name: "user status by score role", method: "GET", path: "/v1/users/bob/status", token: scoreToken, want: 200},
		{name: "user status by read role", method: "GET", path: "/v1/users/bob/status", token: readToken, want: 200},
		{name: "user status by admin role", method: "GET", path: "/v1/users/bob/status", token: adminToken, want: 200},
		{name: "ip status by score role", method: "GET", path: "/v1/ips/192.0.2.1/status", token: scoreToken, want: 200},
		{name: "ip status by read role", method: "GET", path: "/v1/ips/192.0.2.1/status", token: readToken, want: 200},
		{name: "decision without token", method: "GET", path: "/v1/decisions/known-event", want: 401},
		{name: "decision by score role", method: "GET", path: "/v1/decisions/known-event", token: scoreToken, want: 200},
		{name: "decision by read role", method: "GET", path: "/v1/decisions/known-event", token: readToken, want: 200},
		{name: "lift by score role", method: "DELETE", path: "/v1/locks/user/bob", token: scoreToken, want: 403},
		{name: "lift by read role", method: "DELETE", path: "/v1/locks/user/bob", token: readToken, want: 403},
		{name: "lift by admin role", method: "DELETE", path: "/v1/locks/user/bob", token: adminToken, want: 404}, // allowed; no such lock
		{name: "rules without token", method: "GET", path: "/v1/rules", want: 401},
		{name: "rules by score role", method: "GET", path: "/v1/rules", token: scoreToken, want: 403},
		{name: "rules by read role", method: "GET", path: "/v1/rules", token: readToken, want: 200},
		{name: "rules by admin role", method: "GET", path: "/v1/rules", token: adminToken, want: 200},
		{name: "reload by read role", method: "POST", path: "/v1/rules/reload", token: readToken, want: 403},
		{name: "reload by score role", method: "POST", path: "/v1/rules/reload", token: scoreToken, want: 403},
		{name: "reload by admin role", method: "POST", path: "/v1/rules/reload", token: adminToken, want: 200},
		{name: "healthz is open", method: "GET", path: "/healthz", want: 200},
		{name: "readyz is open", method: "GET", path: "/readyz", want: 200},
		// Rule hit counts are not public (issue 16).
		{name: "metrics without token", method: "GET", path: "/metrics", want: 401},
		{name: "metrics by score role", method: "GET", path: "/metrics", token: scoreToken, want: 403},
		{name: "metrics by read role", method: "GET", path: "/metrics", token: readToken, want: 200},
		{name: "metrics by admin role", method: "GET", path: "/metrics", token: adminToken, want: 200},
		{name: "healthz ignores a bad token", method: "GET", path: "/healthz", token: "not-a-token-0123456789", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.ts.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			switch {
			case tc.header != "":
				req.Header.Set("Authorization", tc.header)
			case tc.token != "":
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, body := f.doRaw(t, req)
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.want >= 400 {
				response{code: resp.StatusCode, body: body}.errorJSON(t)
			}
		})
	}
	if got := f.srv.Metrics().AuthFailures.Load(); got < 10 {
		t.Errorf("AuthFailures = %d, want every 401 and 403 counted", got)
	}
}

func TestScoreBadInput(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	valid := event{id: "bad-input-valid"}.json()
	replace := func(from, to string) []byte {
		return bytes.Replace(valid, []byte(from), []byte(to), 1)
	}
	tests := []struct {
		name        string
		path        string
		contentType string
		body        []byte
		wantCode    int
		wantField   string
		wantInError string
	}{
		{name: "not an ip", body: replace(`"ip":"198.51.100.7"`, `"ip":"not-an-ip"`), wantCode: 400, wantField: "ip", wantInError: "not-an-ip"},
		{name: "ip with a zone", body: replace(`"ip":"198.51.100.7"`, `"ip":"fe80::1%eth0"`), wantCode: 400, wantField: "ip"},
		{name: "missing event_id", body: replace(`"event_id":"bad-input-valid",`, ``), wantCode: 400, wantField: "event_id", wantInError: "required"},
		{name: "missing user_id", body: replace(`"user_id":"alice@example.com"`, `"x":"y"`), wantCode: 400, wantField: "user_id"},
		{name: "bad outcome", body: replace(`"outcome":"success"`, `"outcome":"maybe"`), wantCode: 400, wantField: "outcome"},
		{name: "number for a string", body: replace(`"user_id":"alice@example.com"`, `"user_id":42`), wantCode: 400, wantField: "user_id"},
		{name: "bad time", body: replace(`"occurred_at":"2026-03-02T09:59:00Z"`, `"occurred_at":"yesterday"`), wantCode: 400, wantField: "occurred_at"},
		{name: "invalid json", body: []byte(`{"event_id": "x",`), wantCode: 400, wantInError: "JSON"},
		{name: "json array", body: []byte(`[1,2]`), wantCode: 400},
		{name: "empty body", body: []byte{}, wantCode: 400},
		{name: "trailing data", body: append(append([]byte{}, valid...), []byte(` {}`)...), wantCode: 400},
		{name: "wrong content type", contentType: "text/plain", body: valid, wantCode: 415},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: valid, wantCode: 415},
		{name: "latin1 charset", contentType: "application/json; charset=latin1", body: valid, wantCode: 415},
		{name: "utf-8 charset is fine", contentType: "application/json; charset=UTF-8", body: valid, wantCode: 200},
		{name: "body too large", body: append(append([]byte{}, valid[:len(valid)-1]...), []byte(`,"pad":"`+strings.Repeat("x", 70<<10)+`"}`)...), wantCode: 413},
		{name: "bad dry_run", path: "/v1/score?dry_run=perhaps", body: valid, wantCode: 400, wantField: "dry_run"},
		{name: "occurred_at too far in the future", body: replace(`"occurred_at":"2026-03-02T09:59:00Z"`, `"occurred_at":"2026-03-02T11:00:00Z"`), wantCode: 422, wantField: "occurred_at"},
		{name: "occurred_at too old", body: replace(`"occurred_at":"2026-03-02T09:59:00Z"`, `"occurred_at":"2026-02-20T09:59:00Z"`), wantCode: 422, wantField: "occurred_at"},
	}
	if !bytes.Contains(valid, []byte(`"occurred_at":"2026-03-02T09:59:00Z"`)) {
		t.Fatalf("the valid event changed shape: %s", valid)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/score"
			}
			resp := f.do(request{method: "POST", path: path, token: scoreToken, contentType: tc.contentType, body: tc.body})
			resp.expect(t, tc.wantCode)
			if tc.wantCode == 200 {
				return
			}
			e := resp.errorJSON(t)
			if e.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %q)", e.Field, tc.wantField, e.Error)
			}
			if !strings.Contains(e.Error, tc.wantInError) {
				t.Errorf("error %q does not mention %q", e.Error, tc.wantInError)
			}
		})
	}
	if got := f.eng.Metrics().EventsTotal.Load(); got != 1 {
		t.Errorf("EventsTotal = %d, want 1 (only the valid event is scored)", got)
	}
}

func TestScoreSameEventTwice(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	e := event{id: "twice", outcome: "failure"}
	first := f.score(e, false)
	backlog := f.eng.Backlog()
	second := f.score(e, false)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("second decision differs:\n%+v\n%+v", first, second)
	}
	m := f.eng.Metrics()
	if got := m.EventsTotal.Load(); got != 1 {
		t.Errorf("EventsTotal = %d, want 1", got)
	}
	if got := m.DuplicatesTotal.Load(); got != 1 {
		t.Errorf("DuplicatesTotal = %d, want 1", got)
	}
	if got := f.eng.Backlog(); got != backlog || backlog != 1 {
		t.Errorf("backlog %d after the first post, %d after the second; want 1 and 1 (a duplicate is not submitted again)", backlog, got)
	}
}

// TestScoreReusedEventIDConflicts is issue 16.3 over HTTP: after
// mallory's success with event_id dup-x, six failures for victim under the
// same id each answer 409 naming the conflict, never mallory's allow, and
// none is recorded; mallory's event posted again is still a duplicate.
func TestScoreReusedEventIDConflicts(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	first := f.score(event{id: "dup-x", user: "mallory", ip: "203.0.113.9", outcome: "success"}, false)
	backlog := f.eng.Backlog()
	for i := range 6 {
		e := event{id: "dup-x", user: "victim", ip: "198.51.100.77", outcome: "failure", at: testNow.Add(time.Duration(i-30) * time.Second)}
		resp := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: e.json()})
		if resp.code != http.StatusConflict {
			t.Fatalf("victim's failure %d under mallory's event_id: %d %s, want 409", i+1, resp.code, resp.body)
		}
		if body := resp.errorJSON(t); body.Field != "event_id" || !strings.Contains(body.Error, "user_id differs") || !strings.Contains(body.Error, "dup-x") {
			t.Errorf("409 body %+v: want field event_id and an error naming dup-x and user_id", body)
		}
	}
	if got := f.eng.Backlog(); got != backlog {
		t.Errorf("conflicts were submitted for recording: backlog %d → %d", backlog, got)
	}
	if got := f.status("users/victim"); got.LastDecision != nil {
		t.Errorf("victim has a last decision %+v after conflicts only", got.LastDecision)
	}
	again := f.score(event{id: "dup-x", user: "mallory", ip: "203.0.113.9", outcome: "success"}, false)
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("mallory's event posted again: %+v, want the first decision %+v", again, first)
	}
	if m := f.do(request{method: "GET", path: "/metrics", token: readToken}); !strings.Contains(string(m.body), "\nloginrisk_events_conflict_total 6\n") {
		t.Errorf("/metrics does not count the 6 conflicts:\n%s", m.body)
	}
}

func TestDryRun(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	user, ip := "dry@example.com", "203.0.113.9"
	// Four real failures: one short of the failure_burst lock.
	for i := range 4 {
		f.score(event{id: fmt.Sprintf("dry-real-%d", i), user: user, ip: ip, outcome: "failure", at: testNow.Add(time.Duration(i-10) * time.Minute)}, false)
	}
	before := f.status("users/" + user)
	backlog := f.eng.Backlog()

	d := f.score(event{id: "dry-1", user: user, ip: ip, outcome: "failure", at: testNow.Add(-5 * time.Minute)}, true)
	if d.Decision != schemas.VerdictLockout || d.Lock == nil {
		t.Errorf("the dry run should say the fifth failure locks out: %+v", d)
	}
	after := f.status("users/" + user)
	if len(after.Locks) != 0 {
		t.Errorf("a dry run set a lock: %+v", after.Locks)
	}
	if fmt.Sprint(before.Counters) != fmt.Sprint(after.Counters) {
		t.Errorf("counters changed by a dry run: %v → %v", before.Counters, after.Counters)
	}
	if before.LastDecision == nil || after.LastDecision == nil || before.LastDecision.EventID != after.LastDecision.EventID {
		t.Errorf("last decision changed by a dry run: %+v → %+v", before.LastDecision, after.LastDecision)
	}
	if resp := f.do(request{method: "GET", path: "/v1/decisions/dry-1", token: readToken}); resp.code != 404 {
		t.Errorf("a dry run's decision is remembered: %d %s", resp.code, resp.body)
	}
	if got := f.eng.Backlog(); got != backlog {
		t.Errorf("a dry run was submitted for recording: backlog %d → %d", backlog, got)
	}
	// Had the dry run counted, this would be the sixth failure; it is the
	// fifth, and the one that locks.
	real := f.score(event{id: "dry-real-4", user: user, ip: ip, outcome: "failure", at: testNow.Add(-4 * time.Minute)}, false)
	if real.Decision != schemas.VerdictLockout {
		t.Errorf("the fifth real failure: %s, want lockout", real.Decision)
	}
	// The same event_id scored for real after a dry run is scored, not
	// taken for a duplicate.
	if got := f.eng.Metrics().DuplicatesTotal.Load(); got != 0 {
		t.Errorf("DuplicatesTotal = %d, want 0", got)
	}
}

func TestLockLifecycle(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name    string
		user    string
		ip      string
		ipKey   string // the ip part of the lock key
		liftKey string // the key as sent in DELETE
	}{
		{name: "ipv4, pipe escaped", user: "carol@example.com", ip: "198.51.100.20", ipKey: "198.51.100.20", liftKey: "carol@example.com%7C198.51.100.20"},
		{name: "ipv4, pipe raw", user: "dave@example.com", ip: "198.51.100.21", ipKey: "198.51.100.21", liftKey: "dave@example.com|198.51.100.21"},
		{name: "ipv6 by /64, slash raw", user: "erin@example.com", ip: "2001:db8:1:2::5", ipKey: "2001:db8:1:2::/64", liftKey: "erin@example.com|2001:db8:1:2::/64"},
		{name: "user id with a slash", user: "team/frank", ip: "198.51.100.22", ipKey: "198.51.100.22", liftKey: "team%2Ffrank%7C198.51.100.22"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := f.bruteForce(tc.user, tc.ip)
			wantKey := tc.user + "|" + tc.ipKey
			if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserIP || d.Lock.Key != wantKey {
				t.Fatalf("fifth failure: %+v, want a user_ip lockout on %s", d, wantKey)
			}
			userPath := "users/" + strings.ReplaceAll(tc.user, "/", "%2F")
			st := f.status(userPath)
			if len(st.Locks) != 1 {
				t.Fatalf("user status locks = %+v, want one", st.Locks)
			}
			l := st.Locks[0]
			wantUntil := testNow.Add(-time.Minute).Add(10 * time.Minute) // last failure + the first rung
			if l.Scope != schemas.ScopeUserIP || l.Key != wantKey || !l.Until.Equal(wantUntil) || l.Rule != "failure_burst" {
				t.Errorf("lock = %+v, want user_ip %s until %s by failure_burst", l, wantKey, wantUntil)
			}
			// The five failures, one a minute up to a minute ago.
			if c := st.Counters; c.Get("user_failures_15m") != 5 || c.Get("user_consecutive_failures") != 5 || c.Get("user_failures_1m") != 0 {
				t.Errorf("user counters = %v, want 5 failures in 15 min, 5 consecutive, none in the last minute", c)
			}
			if st.LastDecision == nil || st.LastDecision.EventID != d.EventID {
				t.Errorf("last decision = %+v, want %s", st.LastDecision, d.EventID)
			}
			if ipst := f.status("ips/" + tc.ip); len(ipst.Locks) != 1 || ipst.Locks[0].Key != wantKey {
				t.Errorf("ip status locks = %+v, want the user_ip lock", ipst.Locks)
			}
			if ipst := f.status("ips/" + tc.ip); ipst.Counters.Get("ip_failures_10m") != 5 || ipst.Counters.Get("ip_distinct_users_10m") != 1 {
				t.Errorf("ip counters = %v, want 5 failures and 1 user in 10 min", ipst.Counters)
			}
			// The owner elsewhere is not locked: another address's status is clean.
			if other := f.status("ips/192.0.2.99"); len(other.Locks) != 0 {
				t.Errorf("an unrelated address is locked: %+v", other.Locks)
			}

			resp := f.do(request{method: "DELETE", path: "/v1/locks/user_ip/" + tc.liftKey, token: adminToken})
			if resp.code != 200 {
				t.Fatalf("lift: %d %s", resp.code, resp.body)
			}
			var lift schemas.Decision
			if err := json.Unmarshal(resp.body, &lift); err != nil {
				t.Fatal(err)
			}
			if lift.Lock == nil || lift.Lock.Rule != engine.AdminLiftRule || lift.Lock.Key != wantKey || len(lift.Reasons) != 1 || !strings.Contains(lift.Reasons[0].Detail, "alice") {
				t.Errorf("lift record = %+v, want admin_lift on %s by alice", lift, wantKey)
			}
			if st := f.status(userPath); len(st.Locks) != 0 {
				t.Errorf("after the lift the user is still locked: %+v", st.Locks)
			}
			resp = f.do(request{method: "DELETE", path: "/v1/locks/user_ip/" + tc.liftKey, token: adminToken})
			if resp.code != 404 {
				t.Errorf("second lift: %d %s, want 404", resp.code, resp.body)
			}
		})
	}
}

// pathCase is a request path and the answer it must get: the code and,
// for an error, the field the error names ("" for none).
type pathCase struct {
	name      string
	path      string
	wantCode  int
	wantField string
}

// checkPaths sends method with token to each case's path.
func checkPaths(t *testing.T, method, token string, cases []pathCase) {
	f := newFixture(t, fixtureOptions{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(request{method: method, path: tc.path, token: token})
			resp.expect(t, tc.wantCode)
			if tc.wantCode != 200 {
				resp.expectField(t, tc.wantField)
			}
		})
	}
}

func TestLiftBadInput(t *testing.T) {
	checkPaths(t, "DELETE", adminToken, []pathCase{
		{name: "unknown scope", path: "/v1/locks/planet/earth", wantCode: 400, wantField: "scope"},
		{name: "user_ip key without a pipe", path: "/v1/locks/user_ip/bob", wantCode: 400, wantField: "key"},
		{name: "user_ip key with an empty ip", path: "/v1/locks/user_ip/bob%7C", wantCode: 400, wantField: "key"},
		{name: "no such user lock", path: "/v1/locks/user/nobody", wantCode: 404},
		{name: "no such ip lock", path: "/v1/locks/ip/192.0.2.1", wantCode: 404},
		{name: "key with a control character", path: "/v1/locks/user/bo%01b", wantCode: 400, wantField: "key"},
	})
}

func TestLiftNotRecorded(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.bruteForce("grace@example.com", "198.51.100.30")
	f.failRecord.Store(true)
	resp := f.do(request{method: "DELETE", path: "/v1/locks/user_ip/grace@example.com%7C198.51.100.30", token: adminToken})
	if resp.code != 503 || !strings.Contains(resp.errorJSON(t).Error, "lock stays") {
		t.Fatalf("got %d %s, want 503 saying the lock stays", resp.code, resp.body)
	}
	// Nothing changed: the lock is still active here too, and a retry
	// once recording works lifts it.
	if st := f.status("users/grace@example.com"); len(st.Locks) != 1 {
		t.Fatalf("after an unrecorded lift: locks %+v, want the lock kept", st.Locks)
	}
	f.failRecord.Store(false)
	resp = f.do(request{method: "DELETE", path: "/v1/locks/user_ip/grace@example.com%7C198.51.100.30", token: adminToken})
	if resp.code != 200 {
		t.Fatalf("retried lift: %d %s", resp.code, resp.body)
	}
	if st := f.status("users/grace@example.com"); len(st.Locks) != 0 {
		t.Errorf("after the retried lift: locks %+v, want none", st.Locks)
	}
}

func TestStatusBadInput(t *testing.T) {
	checkPaths(t, "GET", readToken, []pathCase{
		{name: "not an ip", path: "/v1/ips/not-an-ip/status", wantCode: 400, wantField: "ip"},
		{name: "ip with a zone", path: "/v1/ips/fe80::1%25eth0/status", wantCode: 400, wantField: "ip"},
		{name: "ipv4-mapped ipv6 is fine", path: "/v1/ips/::ffff:192.0.2.1/status", wantCode: 200},
		{name: "user id too long", path: "/v1/users/" + strings.Repeat("u", schemas.MaxUserIDLen+1) + "/status", wantCode: 400, wantField: "user_id"},
		{name: "user id not utf-8", path: "/v1/users/%FF/status", wantCode: 400, wantField: "user_id"},
		{name: "event id too long", path: "/v1/decisions/" + strings.Repeat("e", schemas.MaxEventIDLen+1), wantCode: 400, wantField: "event_id"},
	})
}

func TestDecisionLookup(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	d := f.score(event{id: "lookup-1", outcome: "failure"}, false)
	tests := []struct {
		name     string
		id       string
		wantCode int
	}{
		{name: "known", id: "lookup-1", wantCode: 200},
		{name: "unknown", id: "lookup-2", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(request{method: "GET", path: "/v1/decisions/" + tc.id, token: readToken})
			resp.expect(t, tc.wantCode)
			if tc.wantCode == 404 {
				e := resp.errorJSON(t)
				if !strings.Contains(e.Error, tc.id) || !strings.Contains(e.Error, "the last 100000 events") {
					t.Errorf("404 error %q should name the event id and the memory bound", e.Error)
				}
				return
			}
			want, _ := schemas.EncodeDecision(nil, &d)
			if !bytes.Equal(resp.body, want) {
				t.Errorf("decision lookup:\n%s\nwant the score answer:\n%s", resp.body, want)
			}
		})
	}
}

func TestBacklogFull(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	fillBacklog(t, f.eng)
	resp := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "late"}.json()})
	if resp.code != 503 || resp.header.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", resp.code, resp.header.Get("Retry-After"), resp.body)
	}
	resp.errorJSON(t)
	if got := f.srv.Metrics().BacklogFull.Load(); got != 1 {
		t.Errorf("BacklogFull = %d, want 1", got)
	}
	// A dry run records nothing, so a full backlog does not refuse it.
	if d := f.score(event{id: "late-dry"}, true); d.EventID != "late-dry" {
		t.Errorf("dry run during a full backlog: %+v", d)
	}
	// The refused attempt was not scored: no decision, no state change.
	if resp := f.do(request{method: "GET", path: "/v1/decisions/late", token: readToken}); resp.code != 404 {
		t.Errorf("decision of the refused event: %d %s, want 404", resp.code, resp.body)
	}
	// Once the backlog drains, the client's retry is scored and queued
	// for recording, not taken for a duplicate.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.eng.RunRecorder(ctx, time.Second) }()
	defer func() { cancel(); <-done }()
	for f.eng.Backlog() > 0 {
		time.Sleep(time.Millisecond)
	}
	if d := f.score(event{id: "late"}, false); d.EventID != "late" {
		t.Errorf("retry after the backlog drained: %+v", d)
	}
	if got := f.eng.Metrics().DuplicatesTotal.Load(); got != 0 {
		t.Errorf("DuplicatesTotal = %d after the retry, want 0", got)
	}
}

// TestReadyz runs the checks for callers of each kind. Anyone sees each
// check's name and status; the error of a failed check (a broker's or
// ClickHouse's address and message, which /readyz used to show to anyone,
// issue 16) only a token of the read or admin role.
func TestReadyz(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name       string
		kafkaErr   error
		wantCode   int
		wantStatus string
	}{
		{name: "all ready", wantCode: 200, wantStatus: "ok"},
		{name: "kafka down", kafkaErr: errors.New("dial tcp 127.0.0.1:9092: connection refused"), wantCode: 503, wantStatus: "unavailable"},
	}
	callers := []struct {
		name        string
		token       string
		wantDetails bool
	}{
		{name: "anonymous"},
		{name: "unknown token", token: "not-a-token-0123456789"},
		{name: "score role", token: scoreToken},
		{name: "read role", token: readToken, wantDetails: true},
		{name: "admin role", token: adminToken, wantDetails: true},
	}
	for _, tc := range tests {
		for _, caller := range callers {
			t.Run(tc.name+"/"+caller.name, func(t *testing.T) {
				f.setReady(tc.kafkaErr)
				resp := f.do(request{method: "GET", path: "/readyz", token: caller.token})
				resp.expect(t, tc.wantCode)
				var got struct {
					Status string        `json:"status"`
					Checks []checkResult `json:"checks"`
				}
				if err := json.Unmarshal(resp.body, &got); err != nil {
					t.Fatal(err)
				}
				if got.Status != tc.wantStatus || len(got.Checks) != 2 || got.Checks[0].Name != "rules" || got.Checks[0].Status != "ok" {
					t.Fatalf("readiness = %+v", got)
				}
				kafka := got.Checks[1]
				switch {
				case tc.kafkaErr == nil:
					if kafka.Status != "ok" || kafka.Error != "" {
						t.Errorf("kafka check = %+v, want ok", kafka)
					}
				case caller.wantDetails:
					if kafka.Status != "error" || kafka.Error != tc.kafkaErr.Error() {
						t.Errorf("kafka check = %+v, want the error", kafka)
					}
				default:
					if kafka.Name != "kafka" || kafka.Status != "error" || strings.Contains(string(resp.body), "9092") || strings.Contains(string(resp.body), `"error":`) {
						t.Errorf("answer %s, want the check's name and state without its error", resp.body)
					}
				}
			})
		}
	}
}

func TestReadyzStuckCheck(t *testing.T) {
	f := newFixture(t, fixtureOptions{stuckCheck: true})
	resp := f.do(request{method: "GET", path: "/readyz", token: readToken})
	var got struct {
		Status string        `json:"status"`
		Checks []checkResult `json:"checks"`
	}
	if err := json.Unmarshal(resp.body, &got); err != nil {
		t.Fatal(err)
	}
	if resp.code != 503 || got.Status != "unavailable" || len(got.Checks) != 3 {
		t.Fatalf("got %d %s, want 503 listing three checks", resp.code, resp.body)
	}
	if c := got.Checks[2]; c.Name != "stuck" || c.Status != "error" || !strings.Contains(c.Error, "no answer within 50ms") {
		t.Errorf("stuck check = %+v", c)
	}
	if c := got.Checks[0]; c.Status != "ok" {
		t.Errorf("the rules check = %+v, want ok", c)
	}
}

func TestRules(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	resp := f.do(request{method: "GET", path: "/v1/rules", token: readToken})
	var set ruleSet
	if resp.code != 200 || json.Unmarshal(resp.body, &set) != nil {
		t.Fatalf("rules: %d %s", resp.code, resp.body)
	}
	if set.Version != f.eng.RulesVersion() || set.Version == "" {
		t.Errorf("version = %q, want %q", set.Version, f.eng.RulesVersion())
	}
	var burst *ruleInfo
	for i := range set.Rules {
		if set.Rules[i].ID == "failure_burst" {
			burst = &set.Rules[i]
		}
	}
	if len(set.Rules) != len(f.eng.Rules().Rules()) || burst == nil {
		t.Fatalf("rules = %+v, want every rule of the set", set.Rules)
	}
	if burst.Mode != "active" || burst.Weight != 40 || burst.Action != "lockout" || burst.Scope != "user_ip" {
		t.Errorf("failure_burst = %+v", *burst)
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	original := f.eng.RulesVersion()
	account := filepath.Join(f.rulesDir, "account.yaml")
	data, err := os.ReadFile(account)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		content     []byte
		wantCode    int
		wantVersion func(string) bool
	}{
		{name: "broken expression keeps the previous set",
			content:     bytes.Replace(data, []byte("user_network_failures_15m >= 5"), []byte("user_network_failures_15m >= \"five\""), 1),
			wantCode:    422,
			wantVersion: func(v string) bool { return v == original }},
		{name: "a changed weight is a new version",
			content:     bytes.Replace(data, []byte("weight: 40"), []byte("weight: 45"), 1),
			wantCode:    200,
			wantVersion: func(v string) bool { return v != original }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.content, data) {
				t.Fatal("the edit did not apply; the shipped rules changed shape")
			}
			if err := os.WriteFile(account, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			previous := f.eng.RulesVersion()
			resp := f.do(request{method: "POST", path: "/v1/rules/reload", token: adminToken})
			resp.expect(t, tc.wantCode)
			if !tc.wantVersion(f.eng.RulesVersion()) {
				t.Errorf("version after reload = %s (original %s)", f.eng.RulesVersion(), original)
			}
			if tc.wantCode == 422 {
				if e := resp.errorJSON(t); !strings.Contains(e.Error, "account.yaml") || !strings.Contains(e.Error, previous) {
					t.Errorf("422 error %q should locate the problem and name the version kept", e.Error)
				}
				return
			}
			var got struct {
				Version         string `json:"version"`
				PreviousVersion string `json:"previous_version"`
			}
			if err := json.Unmarshal(resp.body, &got); err != nil || got.Version != f.eng.RulesVersion() || got.PreviousVersion != previous {
				t.Errorf("reload answer %s, want version %s previous %s", resp.body, f.eng.RulesVersion(), previous)
			}
		})
	}

	// The rules-folder attack of issue 16: a link to a secret file put the
	// secret in the 422 answer.
	t.Run("a link to a secret file is refused without its content", func(t *testing.T) {
		if err := os.WriteFile(account, data, 0o600); err != nil {
			t.Fatal(err)
		}
		const secret = "hunter2-s3cret-do-not-print"
		secretFile := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(f.rulesDir, "zz-secret.yaml")
		if err := os.Symlink(secretFile, link); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
		defer os.Remove(link)
		resp := f.do(request{method: "POST", path: "/v1/rules/reload", token: adminToken})
		resp.expect(t, 422)
		if e := resp.errorJSON(t); !strings.Contains(e.Error, "zz-secret.yaml is a symbolic link") || strings.Contains(e.Error, secret) {
			t.Errorf("422 error %q should name the link and not quote its target", e.Error)
		}
	})

	t.Run("no reload function", func(t *testing.T) {
		g := newFixture(t, fixtureOptions{noReload: true})
		if resp := g.do(request{method: "POST", path: "/v1/rules/reload", token: adminToken}); resp.code != 501 {
			t.Errorf("got %d %s, want 501", resp.code, resp.body)
		}
	})
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.bruteForce("henry@example.com", "198.51.100.40")
	f.score(event{id: "bf-henry@example.com-198.51.100.40-0", user: "henry@example.com", ip: "198.51.100.40", outcome: "failure",
		at: testNow.Add(-5 * time.Minute)}, false) // a duplicate
	f.do(request{method: "GET", path: "/v1/users/henry@example.com/status"}) // 401
	resp := f.do(request{method: "GET", path: "/metrics", token: readToken})
	if resp.code != 200 {
		t.Fatalf("metrics: %d", resp.code)
	}
	text := string(resp.body)
	for _, want := range []string{
		"loginrisk_events_scored_total 5\n",
		"loginrisk_events_duplicate_total 1\n",
		`loginrisk_decisions_total{decision="lockout"} 1` + "\n",
		`loginrisk_rule_hits_total{rule="failure_burst"} 1` + "\n",
		"loginrisk_locks_set_total 1\n",
		"loginrisk_recording_backlog 5\n",
		`loginrisk_rules_info{version="` + f.eng.RulesVersion() + `"} 1` + "\n",
		`loginrisk_http_request_duration_seconds_count{code="200",route="score"} 6` + "\n",
		`loginrisk_http_request_duration_seconds_count{code="401",route="userStatus"} 1` + "\n",
		"loginrisk_http_auth_failures_total 1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestMetricsAccess covers where and to whom GET /metrics answers: by
// default on the API to the read and admin roles (rule hit counts are not
// public, issue 16); with MetricsOpen to anyone; with MetricsOwnListener
// only on MetricsHandler, with the same token rule.
func TestMetricsAccess(t *testing.T) {
	tests := []struct {
		name string
		opts fixtureOptions
		// The answers of the API's handler and of MetricsHandler, without
		// a token and with the score and read roles' tokens.
		api, own [3]int
	}{
		{name: "default: read role on the API", api: [3]int{401, 403, 200}, own: [3]int{401, 403, 200}},
		{name: "open", opts: fixtureOptions{metricsOpen: true}, api: [3]int{200, 200, 200}, own: [3]int{200, 200, 200}},
		{name: "own listener", opts: fixtureOptions{metricsOwnListener: true}, api: [3]int{404, 404, 404}, own: [3]int{401, 403, 200}},
		{name: "own listener, open", opts: fixtureOptions{metricsOwnListener: true, metricsOpen: true}, api: [3]int{404, 404, 404}, own: [3]int{200, 200, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			f.bruteForce("henry@example.com", "198.51.100.40") // a rule hit to show
			own := httptest.NewServer(f.srv.MetricsHandler())
			defer own.Close()
			for i, token := range []string{"", scoreToken, readToken} {
				for _, srv := range []struct {
					name string
					url  string
					want int
				}{{"API", f.ts.URL, tc.api[i]}, {"metrics listener", own.URL, tc.own[i]}} {
					resp := send(t, http.DefaultClient, srv.url, request{method: http.MethodGet, path: "/metrics", token: token})
					if resp.code != srv.want {
						t.Errorf("%s, token %q: GET /metrics = %d, want %d", srv.name, token, resp.code, srv.want)
					}
					if hits := strings.Contains(string(resp.body), "loginrisk_rule_hits_total"); hits != (srv.want == 200) {
						t.Errorf("%s, token %q: answer %d shows rule hits: %v", srv.name, token, resp.code, hits)
					}
				}
			}
			// The metrics listener serves nothing else.
			if resp, err := http.Get(own.URL + "/v1/rules"); err != nil || resp.StatusCode != 404 {
				t.Errorf("metrics listener GET /v1/rules: %v %v, want 404", resp.StatusCode, err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	eng := newFixture(t, fixtureOptions{}).eng
	good := func() Config {
		return Config{Engine: eng, Tokens: []Token{{Name: "gw", Secret: scoreToken, Role: RoleScore}}}
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" means valid
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "no engine", edit: func(c *Config) { c.Engine = nil }, wantErr: "engine"},
		{name: "no tokens", edit: func(c *Config) { c.Tokens = nil }, wantErr: "at least one token"},
		{name: "short secret", edit: func(c *Config) { c.Tokens[0].Secret = "short" }, wantErr: "at least 16"},
		{name: "bad role", edit: func(c *Config) { c.Tokens[0].Role = "root" }, wantErr: `"root" is not one of`},
		{name: "no name", edit: func(c *Config) { c.Tokens[0].Name = "" }, wantErr: "name: is required"},
		{name: "duplicate name", edit: func(c *Config) {
			c.Tokens = append(c.Tokens, Token{Name: "gw", Secret: readToken, Role: RoleRead})
		}, wantErr: "also the name of http.tokens[0]"},
		{name: "duplicate secret", edit: func(c *Config) {
			c.Tokens = append(c.Tokens, Token{Name: "other", Secret: scoreToken, Role: RoleAdmin})
		}, wantErr: "same as http.tokens[0].token"},
		{name: "body limit too large", edit: func(c *Config) { c.MaxBodyBytes = 1 << 20 }, wantErr: "max_body_bytes"},
		{name: "body limit too small", edit: func(c *Config) { c.MaxBodyBytes = 100 }, wantErr: "max_body_bytes"},
		{name: "check without function", edit: func(c *Config) { c.Ready = []Check{{Name: "kafka"}} }, wantErr: "readiness check 0"},
		{name: "negative timeout", edit: func(c *Config) { c.ReadTimeout = -time.Second }, wantErr: "read_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.edit(&cfg)
			_, err := New(cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestServeAndShutdown(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.ServeListener(ctx, ln, "", "") }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeListener after cancel: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}

	err = f.srv.ServeListener(context.Background(), mustListen(t), "cert.pem", "")
	if err == nil || !strings.Contains(err.Error(), "together") {
		t.Errorf("a certificate without a key: %v", err)
	}
	err = f.srv.ServeListener(context.Background(), mustListen(t), filepath.Join(t.TempDir(), "missing.pem"), filepath.Join(t.TempDir(), "missing.key"))
	if err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("a missing certificate: %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestNetworkLockOverHTTP: a spray rotating over one /24 sets a network
// lock (network_spray); the status of any address of the /24 lists it,
// and an admin lifts it by its CIDR key, the slash sent as %2F; a key
// that is not a /24 or /64 is a 400 naming the key.
func TestNetworkLockOverHTTP(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	var d schemas.Decision
	for i := range 20 {
		d = f.score(event{id: fmt.Sprintf("spray-%d", i), user: fmt.Sprintf("victim%d", i), ip: fmt.Sprintf("198.51.100.%d", 10+i%8),
			outcome: "failure", at: testNow.Add(time.Duration(i-30) * time.Minute)}, false)
	}
	const network = "198.51.100.0/24"
	if d.Lock == nil || d.Lock.Scope != schemas.ScopeNetwork || d.Lock.Key != network || d.Lock.Rule != "network_spray" {
		t.Fatalf("20th failure of the spray: %s %+v, want a network lock on %s by network_spray", d.Decision, d.Lock, network)
	}
	st := f.status("ips/198.51.100.200")
	if len(st.Locks) != 1 || st.Locks[0].Scope != schemas.ScopeNetwork || st.Locks[0].Key != network {
		t.Fatalf("status of another address of the /24: locks %+v, want the network lock", st.Locks)
	}
	resp := f.do(request{method: "DELETE", path: "/v1/locks/network/198.51.100.7%2F24", token: adminToken})
	if resp.code != 400 || resp.errorJSON(t).Field != "key" || !strings.Contains(resp.errorJSON(t).Error, "/24") {
		t.Errorf("lift of a key that is no network: %d %s, want 400 naming key", resp.code, resp.body)
	}
	resp = f.do(request{method: "DELETE", path: "/v1/locks/network/198.51.100.0%2F24", token: adminToken})
	if resp.code != 200 {
		t.Fatalf("lift: %d %s", resp.code, resp.body)
	}
	if st := f.status("ips/198.51.100.200"); len(st.Locks) != 0 {
		t.Errorf("after the lift: locks %+v", st.Locks)
	}
}
