package state

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Browsers of the familiarity scenarios.
const (
	uaChromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
)

// famEvent is a login of user at at from ip with device and ua.
func famEvent(user string, at time.Time, ip, device, ua string, outcome schemas.Outcome) *schemas.LoginEvent {
	return &schemas.LoginEvent{
		EventID: fmt.Sprintf("%s-%d", user, at.UnixNano()), UserID: user, OccurredAt: at,
		IP: ip, DeviceID: device, UserAgent: ua, Outcome: outcome,
	}
}

// familiarityHistory teaches sc a home user (always London, one /24, one
// device) and a consultant (eight cities, her own laptop), 40 verified
// logins each over 40 days, during office hours; and other users from
// the same London network, so that the population knows it.
func familiarityHistory(sc *scorer, start time.Time) {
	consultantPlaces := []string{"81.2.69.20", "86.144.23.7", "90.84.118.42", "91.64.200.9", "67.80.14.201", "73.162.88.19", "73.97.150.33", "126.72.31.5"}
	for day := range 40 {
		at := start.Add(time.Duration(day)*24*time.Hour + 9*time.Hour)
		sc.observe(famEvent("home", at, "81.2.69.160", "home-laptop", uaChromeWindows, schemas.OutcomeSuccess))
		sc.observe(famEvent("consultant", at.Add(time.Hour), consultantPlaces[day%len(consultantPlaces)], "consultant-laptop", uaFirefoxLinux, schemas.OutcomeSuccess))
		for n := range 5 {
			sc.observe(famEvent(fmt.Sprintf("neighbour-%d", n), at.Add(2*time.Hour), "81.2.72.10", fmt.Sprintf("neighbour-device-%d", n), uaChromeWindows, schemas.OutcomeSuccess))
		}
	}
}

func TestFamiliarity(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	later := start.Add(41*24*time.Hour + 9*time.Hour)
	tests := []struct {
		name    string
		ev      *schemas.LoginEvent
		atLeast float64 // familiarity_risk
		atMost  float64
	}{
		// The victim's own city, ASN and browser, but a network and a
		// device the victim never used: 15 points (new_device) before.
		{"stolen credentials from the victim's city", famEvent("home", later, "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess), 50, 100},
		{"the home user at home", famEvent("home", later, "81.2.69.160", "home-laptop", uaChromeWindows, schemas.OutcomeSuccess), 0, 0},
		{"the home user's new phone at home", famEvent("home", later, "81.2.69.160", "home-phone", uaFirefoxLinux, schemas.OutcomeSuccess), 1, 49},
		// Another hotel network in a city she works in, on her laptop.
		{"the consultant in a known city, new network", famEvent("consultant", later, "90.84.7.7", "consultant-laptop", uaFirefoxLinux, schemas.OutcomeSuccess), 1, 40},
		{"the consultant in a new city", famEvent("consultant", later, "101.160.77.12", "consultant-laptop", uaFirefoxLinux, schemas.OutcomeSuccess), 1, 49},
		{"a user never verified", famEvent("nobody", later, "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeFailure), 0, 0},
	}
	sc := newScorer(t)
	familiarityHistory(sc, start)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sc.peek(tc.ev)
			if f.FamiliarityRisk < tc.atLeast || f.FamiliarityRisk > tc.atMost {
				t.Errorf("familiarity_risk = %v, want %v..%v (network %v, device %v, city %v, asn %v, browser %v, os %v, hour %v bits)",
					f.FamiliarityRisk, tc.atLeast, tc.atMost, f.FamiliarityNetworkBits, f.FamiliarityDeviceBits, f.FamiliarityCityBits,
					f.FamiliarityASNBits, f.FamiliarityBrowserBits, f.FamiliarityOSBits, f.FamiliarityHourBits)
			}
		})
	}
}

// TestFamiliarityHomeUserVersusConsultant: the same never-seen network
// is stronger evidence against a user who always logs in from one place
// than against one who logs in from many (Witten-Bell escape).
func TestFamiliarityHomeUserVersusConsultant(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	later := start.Add(41 * 24 * time.Hour)
	sc := newScorer(t)
	familiarityHistory(sc, start)
	home := sc.peek(famEvent("home", later, "49.36.101.88", "home-laptop", uaChromeWindows, schemas.OutcomeSuccess))
	consultant := sc.peek(famEvent("consultant", later, "49.36.101.88", "consultant-laptop", uaFirefoxLinux, schemas.OutcomeSuccess))
	if !(home.FamiliarityNetworkBits > consultant.FamiliarityNetworkBits+1) || !(home.FamiliarityCityBits > consultant.FamiliarityCityBits+1) {
		t.Errorf("a new network and city: home user %v / %v bits, consultant %v / %v bits; want the home user's at least 1 bit higher",
			home.FamiliarityNetworkBits, home.FamiliarityCityBits, consultant.FamiliarityNetworkBits, consultant.FamiliarityCityBits)
	}
	if home.FamiliarityCountryBits <= 0 || consultant.FamiliarityDeviceBits >= 0 {
		t.Errorf("country %v bits for the home user abroad (want > 0), device %v bits for the consultant's laptop (want < 0)",
			home.FamiliarityCountryBits, consultant.FamiliarityDeviceBits)
	}
}

// TestFamiliarityOnlyVerifiedLoginsTeach: failed logins, however many,
// and successes the engine did not allow do not make a network or device
// familiar; an allowed success does.
func TestFamiliarityOnlyVerifiedLoginsTeach(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	sc := newScorer(t)
	familiarityHistory(sc, start)
	at := start.Add(41 * 24 * time.Hour)
	probe := famEvent("home", at.Add(time.Hour), "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess)
	before := sc.peek(probe)
	for i := range 30 {
		sc.observe(famEvent("home", at.Add(time.Duration(i)*time.Second), "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeFailure))
	}
	if after := sc.peek(probe); after.FamiliarityRisk != before.FamiliarityRisk {
		t.Errorf("familiarity_risk after 30 failures = %v, want unchanged %v", after.FamiliarityRisk, before.FamiliarityRisk)
	}
	// A success the engine challenged or refused (Observe without Learn)
	// teaches nothing either.
	for i := range 5 {
		sc.observeOnly(famEvent("home", at.Add(time.Duration(40+i)*time.Second), "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess))
	}
	if after := sc.peek(probe); after.FamiliarityRisk != before.FamiliarityRisk {
		t.Errorf("familiarity_risk after 5 challenged successes = %v, want unchanged %v", after.FamiliarityRisk, before.FamiliarityRisk)
	}
	sc.observe(famEvent("home", at.Add(time.Minute), "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess))
	if after := sc.peek(probe); after.FamiliarityRisk >= before.FamiliarityRisk {
		t.Errorf("familiarity_risk after a success = %v, want below %v", after.FamiliarityRisk, before.FamiliarityRisk)
	}
}

// TestFamiliarityDecays: logins long ago weigh less than recent ones,
// and the counts stay within famTopK per attribute.
func TestFamiliarityDecays(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sc := newScorer(t)
	for day := range 20 {
		sc.observe(famEvent("mover", start.Add(time.Duration(day)*24*time.Hour), "81.2.69.160", "laptop", uaChromeWindows, schemas.OutcomeSuccess))
	}
	moved := start.Add(120 * 24 * time.Hour)
	for day := range 20 {
		sc.observe(famEvent("mover", moved.Add(time.Duration(day)*24*time.Hour), "90.84.118.42", "laptop", uaChromeWindows, schemas.OutcomeSuccess))
	}
	now := moved.Add(21 * 24 * time.Hour)
	// 20 logins at each home, 120 days (four half-lives) apart: the
	// first home's weigh about 20/16 by now.
	if total := famOf(t, sc.s, "mover").total[famNetwork]; total > 25 || total < 15 {
		t.Errorf("decayed network total = %v, want about 21 (40 without decay)", total)
	}
	for i := range 50 {
		sc.observe(famEvent("mover", now.Add(time.Duration(i)*time.Minute), fmt.Sprintf("67.80.%d.1", i), fmt.Sprintf("d%d", i), uaChromeWindows, schemas.OutcomeSuccess))
	}
	fm := famOf(t, sc.s, "mover")
	if got := fm.distinct[famNetwork]; got < 40 {
		t.Errorf("distinct networks = %v after 52, want about 52 (kept: %d slots)", got, len(fm.slots[famNetwork]))
	}
}

// TestFamiliarityDeterministic: two stores fed the same events give the
// same features (event time only, no map order in outputs).
func TestFamiliarityDeterministic(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	probe := famEvent("home", start.Add(41*24*time.Hour), "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess)
	var got [2]schemas.Features
	for i := range got {
		sc := newScorer(t)
		familiarityHistory(sc, start)
		got[i] = sc.peek(probe)
	}
	if !reflect.DeepEqual(got[0], got[1]) || got[0].FamiliarityRisk == 0 {
		t.Errorf("two replays differ or score 0: %v / %v", got[0].FamiliarityRisk, got[1].FamiliarityRisk)
	}
}

// TestFamiliarityLoadedProfile: a profile loaded from history (warm
// restart) makes its network and device familiar; replayed successes at
// or before it do not count them twice, and still teach the browser.
func TestFamiliarityLoadedProfile(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	sc := newScorer(t)
	sc.s.LoadProfile(&schemas.UserProfile{
		UserID: "home", Countries: []string{"GB"}, Cities: []string{"GB/London"}, ASNs: []int{64601},
		Devices: []string{"home-laptop"}, Networks: []string{"81.2.69.0/24"}, SuccessesTotal: 40, LastSuccessAt: start,
	})
	sc.observe(famEvent("home", start, "81.2.69.160", "home-laptop", uaChromeWindows, schemas.OutcomeSuccess))
	later := start.Add(time.Hour)
	home := sc.peek(famEvent("home", later, "81.2.69.160", "home-laptop", uaChromeWindows, schemas.OutcomeSuccess))
	stolen := sc.peek(famEvent("home", later, "81.2.70.99", "attacker-box", uaChromeWindows, schemas.OutcomeSuccess))
	if home.FamiliarityNetworkBits >= 0 || home.FamiliarityDeviceBits >= 0 || home.FamiliarityBrowserBits >= 0 {
		t.Errorf("loaded network %v, device %v, replayed browser %v bits; want all below 0",
			home.FamiliarityNetworkBits, home.FamiliarityDeviceBits, home.FamiliarityBrowserBits)
	}
	if stolen.FamiliarityRisk < 60 {
		t.Errorf("stolen credentials after a loaded profile: familiarity_risk %v, want at least 60", stolen.FamiliarityRisk)
	}
	if n := famOf(t, sc.s, "home").total[famNetwork]; n != 40 {
		t.Errorf("network total = %v, want 40 (the loaded successes, the replayed one not counted twice)", n)
	}
}

// famOf returns the familiarity counts of the default tenant's user.
func famOf(t *testing.T, s *Store, user string) *familiarity {
	t.Helper()
	key := schemas.UserKey("", user)
	hash := s.placeString(key)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(hash, key)
	if u == nil || u.familiarity == nil {
		t.Fatalf("no familiarity for %s", user)
	}
	return u.familiarity
}

// TestFamiliarityDocumented: docs/features.md gives every attribute's
// weight and value space as famSpecs has them, and the weights add up
// to 1.
func TestFamiliarityDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/features.md")
	if err != nil {
		t.Fatal(err)
	}
	names := [numFamAttrs]string{famNetwork: "network", famASN: "asn", famCountry: "country", famCity: "city", famBrowser: "browser", famOS: "os", famDevice: "device", famHour: "hour"}
	sum := 0.0
	for a, spec := range famSpecs {
		sum += spec.weight
		counts := "sketch"
		if spec.exact {
			counts = "exact"
		}
		row := fmt.Sprintf("| %s | %.2f | %d | %s |", names[a], spec.weight, int(spec.values), counts)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/features.md lacks the row %q", row)
		}
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("the weights add up to %v, want 1", sum)
	}
}
