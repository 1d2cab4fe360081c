package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestChallengeOutcomeOverHTTP: with the shipped rules and the GeoIP test
// databases, bob (known in London) logs in from Paris on a new device and
// is challenged; the gateway posts the second factor's success, without a
// device_id, naming the challenged attempt in challenge_of. That device is
// then bob's: his next login from Paris with it carries no new_device
// reason. Without challenge_of the mfa success teaches Paris but not the
// device, whose next login is still new_device.
func TestChallengeOutcomeOverHTTP(t *testing.T) {
	for _, tt := range []struct {
		name          string
		challengeOf   bool
		wantNewDevice bool
	}{
		{"challenge_of", true, false},
		{"no challenge_of", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{geoip: true})
			post := func(ev map[string]any) schemas.Decision {
				t.Helper()
				body, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				resp := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: body})
				if resp.code != http.StatusOK {
					t.Fatalf("scoring %s: %d %s", ev["event_id"], resp.code, resp.body)
				}
				var d schemas.Decision
				if err := json.Unmarshal(resp.body, &d); err != nil {
					t.Fatal(err)
				}
				return d
			}
			login := func(id, ip, device string, at time.Time) map[string]any {
				return map[string]any{"event_id": id, "occurred_at": at.Format(time.RFC3339), "user_id": "bob", "tenant_id": "acme",
					"outcome": "success", "ip": ip, "device_id": device, "user_agent": browserUA, "auth_method": "password"}
			}
			start := testNow.Add(-3 * time.Hour)
			for i, id := range []string{"home-1", "home-2"} {
				if d := post(login(id, "81.2.69.160", "dev-home", start.Add(time.Duration(i)*time.Minute))); d.Decision != schemas.VerdictAllow {
					t.Fatalf("bob at home: %+v", d)
				}
			}
			paris := start.Add(time.Hour)
			if d := post(login("paris-1", "90.84.118.42", "dev-new", paris)); d.Decision != schemas.VerdictChallenge {
				t.Fatalf("bob from Paris on a new device: %s %+v, want challenge", d.Decision, d.Reasons)
			}
			mfa := login("paris-mfa", "90.84.118.42", "", paris.Add(30*time.Second))
			delete(mfa, "device_id")
			mfa["auth_method"] = "mfa"
			if tt.challengeOf {
				mfa["challenge_of"] = "paris-1"
			}
			if d := post(mfa); d.Decision != schemas.VerdictAllow {
				t.Fatalf("the passed second factor: %s %+v", d.Decision, d.Reasons)
			}
			d := post(login("paris-2", "90.84.118.43", "dev-new", paris.Add(time.Hour)))
			newDevice := false
			for _, r := range d.Reasons {
				newDevice = newDevice || r.Rule == "new_device"
			}
			if d.Decision != schemas.VerdictAllow || newDevice != tt.wantNewDevice {
				t.Errorf("bob's next login from Paris on dev-new: %s %+v, want allow with new_device %v", d.Decision, d.Reasons, tt.wantNewDevice)
			}
		})
	}
}
