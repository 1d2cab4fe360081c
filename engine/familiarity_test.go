package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestFamiliarityThroughTheEngine scores, with the shipped rules and the
// GeoIP test databases, 40 days of a home user (London, one network, one
// laptop) and of a consultant (eight cities, one laptop); then stolen
// credentials used from the victim's own city on another network and
// device, which scored 15 (new_device) and was allowed before the
// familiarity model, must be challenged by unfamiliar_context, while the
// consultant's next hotel network in a city she works in is allowed.
func TestFamiliarityThroughTheEngine(t *testing.T) {
	enricher := testkit.Enricher(t)
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: enricher}) // the shipped rules
	const (
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	)
	score := func(user, ip, device, ua string, at time.Time) engine.Scored {
		t.Helper()
		ev := loginEvent(t, fmt.Sprintf("%s-%d", user, at.UnixNano()), user, ip, at, schemas.OutcomeSuccess)
		ev.DeviceID, ev.UserAgent = device, ua
		s, err := eng.Score(ev, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	places := []string{"81.2.69.20", "86.144.23.7", "90.84.118.42", "91.64.200.9", "67.80.14.201", "73.162.88.19", "73.97.150.33", "126.72.31.5"}
	start := coreT0
	// genuine is a login of the account's owner: a challenge is passed,
	// which the gateway reports as an mfa success, and that teaches.
	genuine := func(user, ip, device, ua string, at time.Time) {
		t.Helper()
		if s := score(user, ip, device, ua, at); s.Decision.Decision == schemas.VerdictChallenge {
			ev := loginEvent(t, fmt.Sprintf("%s-mfa-%d", user, at.UnixNano()), user, ip, at.Add(30*time.Second), schemas.OutcomeSuccess)
			ev.DeviceID, ev.UserAgent, ev.AuthMethod = device, ua, "mfa"
			if _, err := eng.Score(ev, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	for day := range 40 {
		at := start.Add(time.Duration(day)*24*time.Hour + 9*time.Hour)
		genuine("victim", "81.2.69.160", "victim-laptop", chrome, at)
		genuine("consultant", places[day%len(places)], "consultant-laptop", firefox, at.Add(time.Hour))
	}
	later := start.Add(41*24*time.Hour + 9*time.Hour)

	stolen := score("victim", "81.2.72.10", "attacker-box", chrome, later)
	if stolen.Features.City != "London" || stolen.Features.NewCity {
		t.Fatalf("the attacker's address is in %q (new city %v), want the victim's London", stolen.Features.City, stolen.Features.NewCity)
	}
	if stolen.Decision.Decision != schemas.VerdictChallenge || !engine.HasReason(stolen.Decision, "unfamiliar_context") {
		t.Errorf("stolen credentials from the victim's city: %s, score %d, reasons %v (familiarity_risk %v); want a challenge by unfamiliar_context",
			stolen.Decision.Decision, stolen.Decision.Score, reasonIDs(stolen.Decision), stolen.Features.FamiliarityRisk)
	}
	hotel := score("consultant", "90.84.7.7", "consultant-laptop", firefox, later.Add(time.Hour))
	if !hotel.Features.NewNetwork || hotel.Decision.Decision != schemas.VerdictAllow {
		t.Errorf("the consultant on a new network (%v) in Paris: %s, reasons %v (familiarity_risk %v); want allow",
			hotel.Features.NewNetwork, hotel.Decision.Decision, reasonIDs(hotel.Decision), hotel.Features.FamiliarityRisk)
	}
}

func reasonIDs(d *schemas.Decision) []string {
	var ids []string
	for _, r := range d.Reasons {
		ids = append(ids, r.Rule)
	}
	return ids
}
