package eval

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
)

// Thresholds of issue 15 that the shipped rules must meet on the labelled
// scenarios (docs/detection.md, "The table on main now").
const (
	// maxOrdinaryChallengedPercent bounds the share of the ordinary
	// users' attempts that are challenged.
	maxOrdinaryChallengedPercent = 0.5
	// thresholdScale is the generator's scale for the test: full size,
	// as the table of docs/detection.md (about 17 s a run with -race).
	// At half size the VPN travellers' lockouts that impossible_travel
	// once caused do not show, so a smaller scale would not hold that fix.
	thresholdScale = 1.0
)

// thresholdRuns are the generator's traffic the test runs: seed 1 with
// password_fp (as from a gateway that sends it: the table of
// docs/detection.md), and seed 2 without, traffic of the same shape in
// which the shipped rules before the VPN fix locked a traveller out (seed
// 1's travellers happen to escape it).
var thresholdRuns = []loadgen.LabelledConfig{
	{Seed: 1, Scale: thresholdScale, PasswordFP: true},
	{Seed: 2, Scale: thresholdScale},
}

// TestThresholds replays the labelled scenarios (thresholdRuns, full size) with
// the shipped rules and the test GeoIP databases, as `loginrisk eval`
// does, and holds the engine to the thresholds docs/detection.md
// promises:
//   - no genuine user of any kind is ever refused: owners under attack,
//     the office, carrier NAT and campus crowds, VPN travellers, everyone;
//   - every campaign of every attack kind is detected (challenged or
//     refused at least once);
//   - at most 0.5 % of the ordinary users' attempts are challenged.
func TestThresholds(t *testing.T) {
	for _, cfg := range thresholdRuns {
		t.Run(fmt.Sprintf("seed %d password_fp %t", cfg.Seed, cfg.PasswordFP), func(t *testing.T) { checkThresholds(t, cfg) })
	}
}

// checkThresholds is TestThresholds on the traffic of one configuration.
func checkThresholds(t *testing.T, cfg loadgen.LabelledConfig) {
	events, labelList := loadgen.Labelled(cfg)
	labels, in := labelsOf(labelList), ndjson(t, events)
	var errw bytes.Buffer
	report, err := Run(context.Background(), offline.NewNDJSON(in, &errw), shippedLane(t), labels)
	if err != nil {
		t.Fatal(err, errw.String())
	}
	var table bytes.Buffer
	if err := report.Write(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("the table at scale %g:\n%s", thresholdScale, table.String())

	attacks, benign := report.Tally.Rows()
	seen := map[string]bool{}
	for _, a := range attacks {
		if a.System != SystemEngine {
			continue
		}
		seen[a.Kind] = true
		if a.Campaigns == 0 || a.Detected != a.Campaigns {
			t.Errorf("%s: %d of %d campaigns detected, want all", a.Kind, a.Detected, a.Campaigns)
		}
	}
	for _, b := range benign {
		if b.System != SystemEngine {
			continue
		}
		seen[b.Kind] = true
		if b.LockedUsers != 0 || b.Lockouts != 0 {
			t.Errorf("%s: %d users locked out (%d attempts refused), want none", b.Kind, b.LockedUsers, b.Lockouts)
		}
		if b.Kind == "ordinary" && b.ChallengedPercent() > maxOrdinaryChallengedPercent {
			t.Errorf("ordinary: %.2f %% of %d attempts challenged, want at most %g %%", b.ChallengedPercent(), b.Attempts, maxOrdinaryChallengedPercent)
		}
	}
	for _, k := range loadgen.LabelledKinds() {
		if !seen[k.Name] {
			t.Errorf("kind %s is not in the scenarios at scale %g", k.Name, thresholdScale)
		}
	}
}
