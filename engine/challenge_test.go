package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/rules"
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
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(challengeRules), 0o644); err != nil {
		t.Fatal(err)
	}
	rm, err := rules.NewManager(rules.ManagerConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	geo := filepath.Join("..", "testdata", "geoip")
	enricher, err := features.NewEnricher(features.EnricherConfig{CityPath: filepath.Join(geo, "City-Test.mmdb"), ASNPath: filepath.Join(geo, "ASN-Test.mmdb")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enricher.Close() })
	store, err := features.NewStore(features.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Rules: rm, Enricher: enricher, State: store})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestPassedChallengeTrustsTheContext: bob of acme, known at home, logs in
// from Paris on a new device and is challenged; the gateway reports the
// second factor's end (auth_method mfa, challenge_of). When it passed, for
// that attempt of that user from that network, the next login from Paris
// on that device is allowed.
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
