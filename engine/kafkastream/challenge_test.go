package kafkastream

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestChallengeOutcomeOverKafka: the gateway publishes a challenge's end
// (auth_method mfa, challenge_of) to login-events like any attempt; the
// engine, with the shipped rules and the GeoIP test databases, then takes
// the challenged device for the user's, and a malformed challenge_of is
// dead-lettered naming the field.
func TestChallengeOutcomeOverKafka(t *testing.T) {
	ctx, cfg := groupTestConfig(t, 2*time.Minute, 1)
	stream := newStreamWithTopics(ctx, t, cfg)
	geo := filepath.Join("..", "..", "testdata", "geoip")
	enricher, err := enrich.NewEnricher(enrich.EnricherConfig{CityPath: filepath.Join(geo, "City-Test.mmdb"), ASNPath: filepath.Join(geo, "ASN-Test.mmdb")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enricher.Close() })
	eng := newEngine(t, engine.Config{Enricher: enricher, Recorder: engine.Recorder{Publisher: stream}, DLQ: stream})
	(&instance{name: "gateway's", stream: stream, eng: eng}).run(ctx, t)

	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
	event := func(id, ip, device, auth, challengeOf string, at time.Time) schemas.LoginEvent {
		return schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: "bob", TenantID: "acme", Outcome: schemas.OutcomeSuccess,
			IP: ip, DeviceID: device, UserAgent: ua, AuthMethod: auth, ChallengeOf: challengeOf}
	}
	bad := event("bad-end", "90.84.118.42", "", "password", "paris-1", start.Add(90*time.Minute))
	produceEvents(ctx, t, cfg,
		event("home-1", "81.2.69.160", "dev-home", "password", "", start),
		event("home-2", "81.2.69.160", "dev-home", "password", "", start.Add(time.Minute)),
		event("paris-1", "90.84.118.42", "dev-new", "password", "", start.Add(time.Hour)),
		event("paris-mfa", "90.84.118.42", "", "mfa", "paris-1", start.Add(time.Hour+30*time.Second)),
		bad,
		event("paris-2", "90.84.118.43", "dev-new", "password", "", start.Add(2*time.Hour)),
	)
	waitFor(t, "the last event scored", func() bool { _, ok := eng.Decision("paris-2"); return ok })
	if d, _ := eng.Decision("paris-1"); d.Decision != schemas.VerdictChallenge {
		t.Fatalf("bob from Paris on a new device: %s %+v, want challenge", d.Decision, d.Reasons)
	}
	d, _ := eng.Decision("paris-2")
	for _, r := range d.Reasons {
		if r.Rule == "new_device" {
			t.Errorf("bob's device passed its challenge but his next login is %s %+v", d.Decision, d.Reasons)
		}
	}
	if d.Decision != schemas.VerdictAllow {
		t.Errorf("bob's next login from Paris: %s %+v, want allow", d.Decision, d.Reasons)
	}
	if _, ok := eng.Decision("bad-end"); ok {
		t.Error("an event with challenge_of and auth_method password was scored")
	}
	if eng.Metrics().RejectedTotal.Load() != 1 {
		t.Errorf("rejected %d events, want the one with a bad challenge_of", eng.Metrics().RejectedTotal.Load())
	}
}
