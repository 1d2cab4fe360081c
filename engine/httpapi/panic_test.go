package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestHandlerBugAnswers500: a bug that panics while scoring or while
// reading a status answers a JSON 500 naming an internal error (net/http
// alone would drop the connection), is counted, and leaves the API
// working for everyone else.
func TestHandlerBugAnswers500(t *testing.T) {
	f := newFixture(t, fixtureOptions{bugUser: "mallory"})

	resp := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: event{id: "bug-1", user: "mallory"}.json()})
	if resp.code != http.StatusInternalServerError {
		t.Fatalf("score hitting a bug: %d %s, want 500", resp.code, resp.body)
	}
	if e := resp.errorJSON(t); !strings.Contains(e.Error, "internal error") {
		t.Errorf("score error %q does not say internal error", e.Error)
	}

	resp = f.do(request{method: "GET", path: "/v1/users/mallory/status", token: readToken})
	if resp.code != http.StatusInternalServerError {
		t.Fatalf("status hitting a bug: %d %s, want 500", resp.code, resp.body)
	}
	if e := resp.errorJSON(t); !strings.Contains(e.Error, "internal error") {
		t.Errorf("status error %q does not say internal error", e.Error)
	}

	if d := f.score(event{id: "ok-1", user: "alice@example.com"}, false); d.EventID != "ok-1" {
		t.Errorf("after the bug, another user's score: %+v", d)
	}
	if st := f.status("users/alice@example.com"); st.Counters == nil {
		t.Error("after the bug, another user's status has no counters")
	}

	metrics := f.do(request{method: "GET", path: "/metrics", token: readToken})
	if !strings.Contains(string(metrics.body), "loginrisk_internal_errors_total 1\n") {
		t.Error("metrics do not count the internal error: want loginrisk_internal_errors_total 1")
	}
	if n := f.srv.metrics.ServerErrors.Load(); n != 2 {
		t.Errorf("ServerErrors = %d, want 2", n)
	}
}
