package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// attemptAt is a hand-made event.
func attemptAt(sec int, user, ip string, ok bool) *schemas.LoginEvent {
	ev := &schemas.LoginEvent{EventID: fmt.Sprintf("e%d-%s-%s", sec, user, ip), OccurredAt: t0.Add(time.Duration(sec) * time.Second),
		UserID: user, IP: ip, Outcome: schemas.OutcomeFailure, FailureReason: "bad_password"}
	ev.Addr, _ = schemas.ParseIP(ip)
	if ok {
		ev.Outcome, ev.FailureReason = schemas.OutcomeSuccess, ""
	}
	return ev
}

const (
	allow     = schemas.VerdictAllow
	challenge = schemas.VerdictChallenge
	lockout   = schemas.VerdictLockout
)

func TestTallyOnAHandMadeFixture(t *testing.T) {
	tally := NewTally("a", "b")
	spray := func(c string) loadgen.Label { return loadgen.Label{Kind: "spray", Campaign: c, Attack: true} }
	office := loadgen.Label{Kind: "office"}
	// Campaign c1: system a challenges its 3rd attempt, b never reacts;
	// its one success (4th) is challenged by a only; a never refuses
	// an attempt of it.
	tally.Add(attemptAt(1, "u1", "10.0.0.1", false), spray("c1"), allow, allow)
	tally.Add(attemptAt(2, "u2", "10.0.0.1", false), spray("c1"), allow, allow)
	tally.Add(attemptAt(3, "u3", "10.0.0.1", false), spray("c1"), challenge, allow)
	tally.Add(attemptAt(4, "u4", "10.0.0.1", true), spray("c1"), challenge, allow)
	// Campaign c2: a stops its first attempt, b its second.
	tally.Add(attemptAt(5, "u5", "10.0.0.2", false), spray("c2"), lockout, allow)
	tally.Add(attemptAt(6, "u6", "10.0.0.2", true), spray("c2"), allow, lockout)
	// Office: alice challenged once in 10 attempts, bob refused once in 5.
	for i := range 10 {
		v := allow
		if i == 4 {
			v = challenge
		}
		tally.Add(attemptAt(10+i, "alice", "10.1.0.1", true), office, v, allow)
	}
	for i := range 5 {
		v := allow
		if i == 2 {
			v = lockout
		}
		tally.Add(attemptAt(30+i, "bob", "10.1.0.1", true), office, v, allow)
	}
	attacks, benign := tally.Rows()
	wantAttacks := []AttackRow{
		{Kind: "spray", System: "a", Campaigns: 2, Detected: 2, Refused: 1, AttemptsToDetect: []int{3, 1}, Successes: 2, SuccessesStopped: 1},
		{Kind: "spray", System: "b", Campaigns: 2, Detected: 1, Refused: 1, AttemptsToDetect: []int{2}, Successes: 2, SuccessesStopped: 1},
	}
	if !reflect.DeepEqual(attacks, wantAttacks) {
		t.Errorf("attack rows\n%+v\nwant\n%+v", attacks, wantAttacks)
	}
	if m := attacks[0].MedianAttempts(); m != 2 {
		t.Errorf("median attempts until detection %g, want 2", m)
	}
	wantBenign := []BenignRow{
		{Kind: "office", System: "a", Attempts: 15, Users: 2, Challenged: 1, Lockouts: 1, LockedUsers: 1},
		{Kind: "office", System: "b", Attempts: 15, Users: 2},
	}
	if !reflect.DeepEqual(benign, wantBenign) {
		t.Errorf("genuine rows\n%+v\nwant\n%+v", benign, wantBenign)
	}
	if p := benign[0].ChallengedPercent(); p < 6.66 || p > 6.67 {
		t.Errorf("challenged %.3f %%, want 1 in 15", p)
	}
}

func TestFail2banJail(t *testing.T) {
	f := NewFail2ban(Fail2banConfig{})
	type step struct {
		sec  int
		ip   string
		ok   bool
		want schemas.Verdict
	}
	steps := []step{
		{0, "10.0.0.1", false, allow}, {60, "10.0.0.1", false, allow}, {120, "10.0.0.1", false, allow},
		{180, "10.0.0.1", false, allow},
		{200, "10.0.0.2", false, allow}, // another address counts apart
		{240, "10.0.0.1", false, allow}, // the 5th failure in 10 min: it gets through and bans
		{250, "10.0.0.1", true, lockout}, {839, "10.0.0.1", true, lockout},
		{840, "10.0.0.1", true, allow},  // the ban is over: 10 min after the 5th failure
		{841, "10.0.0.1", false, allow}, // and the count started afresh
		// Failures 3 minutes apart: never 5 within 10 minutes.
		{1000, "10.0.0.3", false, allow}, {1180, "10.0.0.3", false, allow}, {1360, "10.0.0.3", false, allow},
		{1540, "10.0.0.3", false, allow}, {1720, "10.0.0.3", false, allow}, {1721, "10.0.0.3", true, allow},
	}
	for _, s := range steps {
		if got := f.Decide(attemptAt(s.sec, "u", s.ip, s.ok)); got != s.want {
			t.Errorf("t=%ds %s ok=%v: %s, want %s", s.sec, s.ip, s.ok, got, s.want)
		}
	}
	// A ban shorter than the find time: the failures that caused it do
	// not count again once it ends.
	short := NewFail2ban(Fail2banConfig{BanTime: time.Minute})
	for i := range 5 {
		short.Decide(attemptAt(i, "u", "10.0.0.9", false))
	}
	if got := short.Decide(attemptAt(65, "u", "10.0.0.9", false)); got != allow {
		t.Errorf("after a 1-minute ban: %s, want allow", got)
	}
	if got := short.Decide(attemptAt(66, "u", "10.0.0.9", true)); got != allow {
		t.Errorf("one failure after the ban banned again: %s", got)
	}
}

func TestReadLabelsNamesTheBadLineAndField(t *testing.T) {
	good := `{"event_id":"e1","kind":"spray","campaign":"c1","attack":true}` + "\n"
	tests := []struct{ name, input, want string }{
		{"not json", good + "{oops\n", "line 2: not a JSON object"},
		{"missing event_id", good + `{"kind":"x","attack":false}`, "line 2: event_id: missing"},
		{"event_id a number", `{"event_id":7,"kind":"x","attack":false}`, "line 1: event_id: 7 is not a string"},
		{"empty kind", `{"event_id":"e2","kind":"","attack":false}`, "line 1: kind: empty"},
		{"attack a string", `{"event_id":"e2","kind":"x","attack":"yes"}`, `line 1: attack: "yes" is not true or false`},
		{"attack missing", `{"event_id":"e2","kind":"x"}`, "line 1: attack: missing"},
		{"campaign a list", `{"event_id":"e2","kind":"x","campaign":[],"attack":true}`, "line 1: campaign: [] is not a string"},
		{"duplicate", good + "\n" + good, `line 3: event_id: "e1" is labelled twice`},
		{"mixed kind", good + `{"event_id":"e2","kind":"spray","attack":false}`, `line 2: attack: kind "spray" is labelled attack false here and true before`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadLabels(strings.NewReader(tt.input))
			if !errors.Is(err, ErrBadLabels) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrBadLabels with %q", err, tt.want)
			}
		})
	}
	labels, err := ReadLabels(strings.NewReader(good + "\n  \n" + `{"event_id":"e2","kind":"office","attack":false,"extra":1}`))
	if err != nil || len(labels) != 2 || labels["e1"].Campaign != "c1" || labels["e2"].Attack {
		t.Errorf("good labels: %v, %+v", err, labels)
	}
}

// TestRunScoresLikeReplay runs a hand-made brute force through the
// shipped rules: failure_burst needs 5 failures from one network, fail2ban
// bans at the 5th and refuses the 6th.
func TestRunScoresLikeReplay(t *testing.T) {
	eng, store := testkit.Engine(t, "", engine.Config{})
	var in bytes.Buffer
	labels := Labels{}
	add := func(ev *schemas.LoginEvent, l loadgen.Label) {
		fmt.Fprintf(&in, `{"event_id":%q,"occurred_at":%q,"user_id":%q,"outcome":%q,"ip":%q}`+"\n",
			ev.EventID, ev.OccurredAt.Format(time.RFC3339Nano), ev.UserID, ev.Outcome, ev.IP)
		l.EventID = ev.EventID
		labels[ev.EventID] = l
	}
	for i := range 8 {
		add(attemptAt(i*10, "alice", "45.33.4.10", false), loadgen.Label{Kind: "burst", Campaign: "b1", Attack: true})
	}
	add(attemptAt(100, "alice", "81.2.69.160", true), loadgen.Label{Kind: "owner"})
	in.WriteString(`{"event_id":"unlabelled","occurred_at":"2026-11-02T09:05:00Z","user_id":"carol","outcome":"success","ip":"81.2.69.161"}` + "\n")
	var errw bytes.Buffer
	report, err := Run(context.Background(), offline.NewNDJSON(&in, &errw), offline.Lane{Engine: eng, State: store}, labels)
	if err != nil {
		t.Fatal(err, errw.String())
	}
	attacks, benign := report.Tally.Rows()
	if got := [2][]int{attacks[0].AttemptsToDetect, attacks[1].AttemptsToDetect}; !reflect.DeepEqual(got, [2][]int{{5}, {6}}) {
		t.Errorf("attempts until detection (engine, fail2ban) %v, want [[5] [6]]", got)
	}
	if benign[0].Lockouts != 0 || benign[0].Attempts != 1 {
		t.Errorf("owner row %+v, want one attempt, allowed", benign[0])
	}
	if report.Tally.Unlabelled != 1 || report.Stats.Events != 10 {
		t.Errorf("unlabelled %d, events %d; want 1 and 10", report.Tally.Unlabelled, report.Stats.Events)
	}
	var out bytes.Buffer
	if err := report.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| burst | engine | 1 / 1 | 1 | 5 (5) | - |", "| burst | fail2ban | 1 / 1 | 1 | 6 (6) | - |",
		"| owner | engine | 1 | 1 | 0.00 % | 0 | 0 |", "10 events scored, 1 without a label"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
