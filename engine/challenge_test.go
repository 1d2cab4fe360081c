package engine_test

import (
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// challengeRules challenge a known user's success from a network new to
// them, second factors included: only a passed challenge (challenge_of)
// can make such a network familiar.
const challengeRules = `
rules:
  - {id: unfamiliar_network, when: success && user_known && new_network, weight: 30}
`

// challengeEngine is an engine with challengeRules and the GeoIP test
// databases.
func challengeEngine(t *testing.T) *engine.Engine {
	t.Helper()
	eng, _ := testkit.Engine(t, testkit.RulesDir(t, challengeRules), engine.Config{Enricher: testkit.Enricher(t)})
	return eng
}

// TestPassedChallengeTrustsTheContext: bob of acme, known at home, logs in
// from Paris on a new device and is challenged; the gateway reports the
// second factor's end (auth_method mfa, challenge_of). When it passed, for
// that attempt of that user from that network, the next login from Paris
// on that device is allowed; otherwise it is challenged again.
func TestPassedChallengeTrustsTheContext(t *testing.T) {
	start := coreT0.Add(3 * time.Hour)
	tests := []struct {
		name string
		// end is the event reporting the challenge's end; challenged is
		// the challenged attempt's event_id.
		end       func(ev *schemas.LoginEvent, challenged string)
		wantAfter schemas.Verdict
	}{
		{"passed", func(ev *schemas.LoginEvent, id string) { ev.ChallengeOf = id }, schemas.VerdictAllow},
		{"passed without a device_id on the mfa event", func(ev *schemas.LoginEvent, id string) { ev.ChallengeOf, ev.DeviceID = id, "" }, schemas.VerdictAllow},
		{"failed", func(ev *schemas.LoginEvent, id string) {
			ev.ChallengeOf, ev.Outcome, ev.FailureReason = id, schemas.OutcomeFailure, "mfa_failed"
		}, schemas.VerdictChallenge},
		{"no challenge_of", func(*schemas.LoginEvent, string) {}, schemas.VerdictChallenge},
		{"challenge_of an unknown attempt", func(ev *schemas.LoginEvent, _ string) { ev.ChallengeOf = "never-seen" }, schemas.VerdictChallenge},
		{"challenge_of an allowed attempt", func(ev *schemas.LoginEvent, _ string) { ev.ChallengeOf = "home1" }, schemas.VerdictChallenge},
		{"challenge_of another tenant's bob", func(ev *schemas.LoginEvent, id string) { ev.ChallengeOf, ev.TenantID = id, "globex" }, schemas.VerdictChallenge},
		{"challenge_of from another network", func(ev *schemas.LoginEvent, id string) { ev.ChallengeOf, ev.IP = id, "81.2.69.160" }, schemas.VerdictChallenge},
		{"challenge_of with another device", func(ev *schemas.LoginEvent, id string) { ev.ChallengeOf, ev.DeviceID = id, "dev-mallory" }, schemas.VerdictChallenge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := geoScorer{t, challengeEngine(t)}
			s.atHome()
			d := s.score("paris-login", paris, start, schemas.OutcomeSuccess, func(ev *schemas.LoginEvent) { ev.DeviceID = "dev-new" })
			if d.Decision != schemas.VerdictChallenge {
				t.Fatalf("bob from Paris: %s %+v, want challenge", d.Decision, d.Reasons)
			}
			s.score("paris-mfa", paris, start.Add(30*time.Second), schemas.OutcomeSuccess, func(ev *schemas.LoginEvent) {
				ev.DeviceID, ev.AuthMethod = "dev-new", schemas.AuthMethodMFA
				tt.end(ev, "paris-login")
			})
			d = s.score("paris-again", parisToo, start.Add(time.Hour), schemas.OutcomeSuccess, func(ev *schemas.LoginEvent) { ev.DeviceID = "dev-new" })
			if d.Decision != tt.wantAfter {
				t.Errorf("bob from Paris after the challenge's end: %s %+v, want %s", d.Decision, d.Reasons, tt.wantAfter)
			}
		})
	}
}

// TestFailedChallengesFeedTheRules: failed second factors reported with
// challenge_of count as failures from their context (the user's and the
// network's failure windows) and in user_mfa_failures_15m, and the third
// trips the shipped mfa_fatigue rule.
func TestFailedChallengesFeedTheRules(t *testing.T) {
	eng := geoEngine(t, engine.Recorder{}, nil)
	s := geoScorer{t, eng}
	s.atHome()
	start := coreT0.Add(3 * time.Hour)
	d := s.score("paris-login", paris, start, schemas.OutcomeSuccess, func(ev *schemas.LoginEvent) { ev.DeviceID = "dev-new" })
	if d.Decision != schemas.VerdictChallenge {
		t.Fatalf("bob from Paris: %s %+v, want challenge", d.Decision, d.Reasons)
	}
	var last engine.Scored
	for i := range 3 {
		ev := loginEvent(t, "paris-mfa-"+string(rune('1'+i)), "bob", paris, start.Add(time.Duration(i+1)*20*time.Second), schemas.OutcomeFailure)
		ev.TenantID, ev.DeviceID, ev.UserAgent = "acme", "dev-new", firefox
		ev.AuthMethod, ev.FailureReason, ev.ChallengeOf = schemas.AuthMethodMFA, "mfa_failed", "paris-login"
		if err := schemas.Validate(ev); err != nil {
			t.Fatal(err)
		}
		var err error
		if last, err = eng.Score(ev, false); err != nil {
			t.Fatal(err)
		}
	}
	f := last.Features
	if f.UserMFAFailures15m != 3 || f.UserNetworkFailures15m != 3 || f.UserFailures15m != 3 {
		t.Errorf("after three failed challenges: user_mfa_failures_15m %d, user_network_failures_15m %d, user_failures_15m %d; want 3 each",
			f.UserMFAFailures15m, f.UserNetworkFailures15m, f.UserFailures15m)
	}
	if !engine.HasReason(last.Decision, "mfa_fatigue") {
		t.Errorf("the third failed challenge: %s %+v, want mfa_fatigue", last.Decision.Decision, last.Decision.Reasons)
	}
}
