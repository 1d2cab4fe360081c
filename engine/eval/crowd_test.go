package eval

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// attackRun adds n failed attempts on distinct accounts from addr, spread
// evenly over span from start; every tenth name does not exist.
func attackRun(events []schemas.LoginEvent, labels map[string]loadgen.Label, kind, addr string, start time.Time, span time.Duration, n int) []schemas.LoginEvent {
	for i := range n {
		ev := schemas.LoginEvent{EventID: fmt.Sprintf("%s-%03d", kind, i), OccurredAt: start.Add(span * time.Duration(i) / time.Duration(n)),
			UserID: fmt.Sprintf("%s-target-%03d", kind, i), Outcome: schemas.OutcomeFailure, IP: addr, FailureReason: "bad_password",
			UserAgent: "python-requests/2.31.0"}
		if i%10 == 0 {
			ev.FailureReason = "unknown_user"
		}
		events = append(events, ev)
		labels[ev.EventID] = loadgen.Label{EventID: ev.EventID, Kind: kind, Campaign: kind, Attack: true}
	}
	return events
}

// TestCrowdsAreNeverLockedOut replays the labelled scenarios at full size
// (200 colleagues behind one office address with about 6 % typos, 5,000
// mobile users behind one carrier NAT address, 1,500 students behind two
// campus addresses) through the replay path with the shipped rules, plus
// three attacks of its own:
//   - a spray of 60 accounts in 2 hours (5 in any 10 minutes) from one address nobody shares:
//     the address must be locked (scope ip);
//   - stuffing of 30 accounts in 5 minutes from another: locked too;
//   - a spray of 40 accounts from the office address itself, just before
//     the colleagues arrive (from 08:00): the address is shared, so the sprayed
//     accounts get user_ip locks and no ip lock falls on the office.
//
// No user of the office, the carrier NAT or the campus may be refused.
func TestCrowdsAreNeverLockedOut(t *testing.T) {
	events, labelList := loadgen.Labelled(loadgen.LabelledConfig{Seed: 1, Scale: 1})
	labels := labelsOf(labelList)
	var office string
	var officeFirst time.Time
	for i := range events {
		if labels[events[i].EventID].Kind == "office_nat" {
			office, officeFirst = events[i].IP, events[i].OccurredAt
			break
		}
	}
	// From the office's day one: the first events are the history of the
	// home-only users, commuters and travellers, weeks before.
	day2 := officeFirst.Truncate(24 * time.Hour).Add(24 * time.Hour)
	const (
		sprayAddr    = "198.51.100.77"
		stuffingAddr = "203.0.113.78"
	)
	events = attackRun(events, labels, "test_spray", sprayAddr, day2.Add(2*time.Hour), 2*time.Hour, 60)
	events = attackRun(events, labels, "test_stuffing", stuffingAddr, day2.Add(4*time.Hour), 5*time.Minute, 30)
	events = attackRun(events, labels, "test_office_spray", office, day2.Add(7*time.Hour+45*time.Minute), 10*time.Minute, 40)
	slices.SortStableFunc(events, func(a, b schemas.LoginEvent) int { return a.OccurredAt.Compare(b.OccurredAt) })

	in := ndjson(t, events)
	crowds := []string{"office_nat", "carrier_nat", "university"}
	refused := map[string]map[string]bool{} // crowd kind -> users refused
	ipLocks := map[string]string{}          // address -> rule of its first ip lock
	userIPLocks := map[string]int{}         // address -> user_ip locks set
	spared := map[string]string{}           // address -> detail of its first shared_address reason
	var errw bytes.Buffer
	_, err := offline.Run(context.Background(), offline.NewNDJSON(in, &errw), []offline.Lane{shippedLane(t)},
		func(ev *schemas.LoginEvent, out []engine.Scored) error {
			d := out[0].Decision
			l := labels[ev.EventID]
			if slices.Contains(crowds, l.Kind) && d.Decision == schemas.VerdictLockout {
				if refused[l.Kind] == nil {
					refused[l.Kind] = map[string]bool{}
				}
				refused[l.Kind][ev.UserID] = true
			}
			if d.Lock != nil && d.Lock.Scope == schemas.ScopeIP && ipLocks[ev.IP] == "" {
				ipLocks[ev.IP] = d.Lock.Rule
			}
			if d.Lock != nil && d.Lock.Scope == schemas.ScopeUserIP && l.Attack {
				userIPLocks[ev.IP]++
			}
			for _, r := range d.Reasons {
				if r.Rule == schemas.ReasonSharedAddress && spared[ev.IP] == "" {
					spared[ev.IP] = r.Detail
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err, errw.String())
	}
	for _, kind := range crowds {
		if n := len(refused[kind]); n > 0 {
			t.Errorf("%s: %d users refused at least once, want 0", kind, n)
		}
	}
	if ipLocks[sprayAddr] != "password_spray" {
		t.Errorf("the spray address got ip lock %q, want one by password_spray", ipLocks[sprayAddr])
	}
	if ipLocks[stuffingAddr] != "credential_stuffing" {
		t.Errorf("the stuffing address got ip lock %q, want one by credential_stuffing", ipLocks[stuffingAddr])
	}
	if rule, ok := ipLocks[office]; ok {
		t.Errorf("the shared office address %s got an ip lock by %s", office, rule)
	}
	if userIPLocks[office] == 0 {
		t.Errorf("the spray from the office address set no user_ip lock: the fallback did not happen")
	}
	if !strings.HasPrefix(spared[office], "no ip lock on a shared address: ") {
		t.Errorf("the office's spared lock has no shared_address reason (%q)", spared[office])
	}
	for addr, detail := range spared {
		if addr != office {
			t.Errorf("%s, not shared, got a shared_address reason: %s", addr, detail)
		}
	}
}
