package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// FuzzScoreHandler posts arbitrary bodies to POST /v1/score on the fixture's
// real engine and handler: no body may get a 5xx or panic the server, an
// error must be the JSON error shape, and a 2xx must carry a valid
// Decision for the event posted. Seeds: the bad-input corpus
// (testdata/badinput) and a good event.
func FuzzScoreHandler(f *testing.F) {
	fx := newFixture(f, fixtureOptions{})
	// Record what is scored, as serve does, so the backlog never fills.
	ctx, cancel := context.WithCancel(context.Background())
	recorderDone := make(chan struct{})
	go func() { defer close(recorderDone); _ = fx.eng.RunRecorder(ctx, time.Second) }()
	f.Cleanup(func() { cancel(); <-recorderDone })
	handler := fx.srv.Handler()

	f.Add(event{id: "seed-good"}.json(), false)
	for _, c := range testkit.BadInput(f, testNow) {
		if len(c.Message) <= 2*schemas.MaxEventBytes { // the 1 MB one adds nothing but slowness
			f.Add(c.Message, false)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, dryRun bool) {
		path := "/v1/score"
		if dryRun {
			path += "?dry_run=true"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+scoreToken)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		code, out := rec.Code, rec.Body.Bytes()
		if code >= 500 {
			t.Fatalf("answer %d %s to %q", code, out, body)
		}
		if code != http.StatusOK {
			var e errorBody
			if err := json.Unmarshal(out, &e); err != nil || e.Error == "" || code < 400 {
				t.Fatalf("answer %d %s is not a JSON error (%v)", code, out, err)
			}
			return
		}
		var ev schemas.LoginEvent
		if err := schemas.Decode(body, &ev); err != nil {
			t.Fatalf("answer 200 to a body Decode refuses (%v): %q", err, body)
		}
		var d schemas.Decision
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("answer 200 %s is not a Decision: %v", out, err)
		}
		switch {
		case d.EventID != ev.EventID:
			// Only the event_id: a known one gets its earlier decision,
			// whatever else the body says.
			t.Fatalf("decision %+v is not for the event %+v", d, ev)
		case d.Decision != schemas.VerdictAllow && d.Decision != schemas.VerdictChallenge && d.Decision != schemas.VerdictLockout:
			t.Fatalf("decision %q is not a verdict", d.Decision)
		case d.Score < 0 || d.Score > 100 || d.RulesVersion == "":
			t.Fatalf("decision %+v: score out of range or no rules version", d)
		case d.Decision == schemas.VerdictLockout && d.Lock == nil:
			t.Fatalf("lockout without a lock: %+v", d)
		}
	})
}
