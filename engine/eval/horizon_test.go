package eval

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestLongHorizonAttacksAreCaught replays the labelled scenarios (scale
// 0.1) with the shipped rules and requires the long-horizon attacks to be
// caught early and for good:
//   - a guess every ~10 minutes from one address is refused by its 14th
//     attempt (slow_guesser_untrusted: 10 failures from an untrusted
//     network in a day; slow_guesser alone needs 30), and every later
//     guess is refused;
//   - an account failing three times a day from ever-different addresses,
//     its owner away, is locked against every untrusted context
//     (user_untrusted), so that from the first refusal on the attacker's
//     next fresh addresses are refused too, until the owner succeeds
//     again (a failure after that is the owner's business);
//   - the owner of that account, coming back from home on the last
//     evening, is never refused.
func TestLongHorizonAttacksAreCaught(t *testing.T) {
	events, labelList := loadgen.Labelled(loadgen.LabelledConfig{Seed: 1, Scale: 0.1})
	labels, in := labelsOf(labelList), ndjson(t, events)
	type campaign struct {
		attempts, firstRefused, allowedAfter int
		scopes                               map[schemas.LockScope]bool
	}
	campaigns := map[string]*campaign{}
	patientOwners := map[string]bool{}
	ownerBack := map[string]bool{} // campaign -> its owner succeeded since the attack began
	ownersRefused := 0
	var errw bytes.Buffer
	_, err := offline.Run(context.Background(), offline.NewNDJSON(in, &errw), []offline.Lane{shippedLane(t)},
		func(ev *schemas.LoginEvent, out []engine.Scored) error {
			d, l := out[0].Decision, labels[ev.EventID]
			if !l.Attack && strings.HasPrefix(l.Campaign, "patient-") {
				patientOwners[l.Campaign] = true
				if d.Decision == schemas.VerdictLockout {
					ownersRefused++
				}
				if campaigns[l.Campaign] != nil && ev.Success() {
					ownerBack[l.Campaign] = true
				}
			}
			if l.Kind != "slow_guesser" && l.Kind != "patient_guesser" {
				return nil
			}
			c := campaigns[l.Campaign]
			if c == nil {
				c = &campaign{scopes: map[schemas.LockScope]bool{}}
				campaigns[l.Campaign] = c
			}
			c.attempts++
			switch {
			case d.Decision == schemas.VerdictLockout:
				if c.firstRefused == 0 {
					c.firstRefused = c.attempts
				}
				if d.Lock != nil {
					c.scopes[d.Lock.Scope] = true
				}
			case c.firstRefused > 0 && !ownerBack[l.Campaign]:
				c.allowedAfter++
			}
			return nil
		})
	if err != nil {
		t.Fatal(err, errw.String())
	}
	var slow, patient int
	for name, c := range campaigns {
		isSlow := strings.HasPrefix(name, "slow-")
		switch {
		case c.firstRefused == 0:
			t.Errorf("%s: none of %d attempts refused", name, c.attempts)
		case c.allowedAfter > 0:
			t.Errorf("%s: %d attempts allowed after the first refusal (attempt %d of %d)", name, c.allowedAfter, c.firstRefused, c.attempts)
		}
		if isSlow {
			slow++
			if c.firstRefused > 14 {
				t.Errorf("%s: first refused at attempt %d, want by the 14th", name, c.firstRefused)
			}
			continue
		}
		patient++
		if !c.scopes[schemas.ScopeUserUntrusted] {
			t.Errorf("%s: locks %v, want a user_untrusted lock", name, c.scopes)
		}
	}
	if slow == 0 || patient == 0 || len(patientOwners) == 0 {
		t.Fatalf("campaigns: %d slow guessers, %d patient guessers, %d patient owners; want some of each", slow, patient, len(patientOwners))
	}
	if ownersRefused > 0 {
		t.Errorf("the owners of the patiently guessed accounts were refused %d times", ownersRefused)
	}
}
