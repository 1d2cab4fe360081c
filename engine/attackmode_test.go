package engine_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// attackModeRule is the shipped rule that challenges unfamiliar contexts
// while attack mode is on.
const attackModeRule = "attack_mode_unfamiliar"

// attackRig is an engine with the test GeoIP databases and the shipped
// rules, fed ordinary traffic by engine/loadgen's generator.
type attackRig struct {
	t   *testing.T
	eng *engine.Engine
	gen *loadgen.Generator
	// home is each ordinary user's city, from their scored logins.
	home map[string]string
	logs *bytes.Buffer // the engine's log
}

func newAttackRig(t *testing.T) *attackRig {
	t.Helper()
	logs := new(bytes.Buffer)
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: testkit.Enricher(t), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	// Ordinary logins only: the generator's own attack mix would be
	// part of the baseline.
	gen := loadgen.New(loadgen.Config{Users: 3000, Seed: 18, AttackShare: 1e-12})
	return &attackRig{t: t, eng: eng, gen: gen, home: map[string]string{}, logs: logs}
}

func (r *attackRig) score(ev *schemas.LoginEvent) engine.Scored {
	r.t.Helper()
	if err := schemas.Validate(ev); err != nil {
		r.t.Fatal(err)
	}
	s, err := r.eng.Score(ev, false)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// ordinary scores perMinute ordinary logins a minute from from to to
// (fails the test on a lockout by the attack-mode rule) and returns the
// event time the mode was first seen on (zero: never).
func (r *attackRig) ordinary(from, to time.Time, perMinute int) (modeOn time.Time) {
	r.t.Helper()
	step := time.Minute / time.Duration(perMinute)
	for at := from; at.Before(to); at = at.Add(step) {
		ev := r.gen.Next(at)
		s := r.score(&ev)
		if s.Features.Success && s.Features.City != "" {
			r.home[ev.UserID] = s.Features.City
		}
		if s.Features.AttackMode && modeOn.IsZero() {
			modeOn = at
		}
		if s.Decision.Decision == schemas.VerdictLockout && engine.HasReason(s.Decision, attackModeRule) {
			r.t.Errorf("%s: an ordinary login was locked out with %s", at, attackModeRule)
		}
	}
	return modeOn
}

// TestAttackModeCatchesResidentialStuffing: 800 tries from 800 residential
// addresses in the victims' own cities, with a real browser's user agent,
// against ordinary traffic. No per-address counter sees it; attack mode
// turns on, and from then on the campaign is challenged, never locked by
// the mode; when the campaign stops the mode ends.
func TestAttackModeCatchesResidentialStuffing(t *testing.T) {
	r := newAttackRig(t)
	start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC) // a Tuesday
	campaignAt := start.Add(6 * time.Hour)
	if on := r.ordinary(start, campaignAt, 20); !on.IsZero() {
		t.Fatalf("ordinary traffic turned attack mode on at %s", on)
	}
	victims := make([]string, 0, len(r.home))
	for u := range r.home {
		victims = append(victims, u)
	}
	slices.Sort(victims)
	const tries = 800
	browser := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	var afterOn, caughtAfterOn, lockouts, allowedBefore, before int
	var modeOn time.Time
	addrs := map[string]bool{}
	// 20 tries a minute for 40 minutes, interleaved with 20 ordinary
	// logins a minute.
	for i := range tries {
		at := campaignAt.Add(time.Duration(i) * 3 * time.Second)
		user, city := victims[i%len(victims)], r.home[victims[i%len(victims)]]
		reason := "bad_password"
		if i%5 < 2 { // 40 % of the list are not accounts here
			user, reason = fmt.Sprintf("leaked-%05d", i), "unknown_user"
		}
		cities := loadgen.Cities()
		if city == "" {
			city = cities[i%len(cities)].Name
		}
		addr, ok := loadgen.CityAddr(city, 1+(i*257)%4000, false)
		if !ok {
			t.Fatalf("no address %d in %s", i, city)
		}
		addrs[addr.String()] = true
		ev := &schemas.LoginEvent{EventID: fmt.Sprintf("stuff-%04d", i), OccurredAt: at, UserID: user, IP: addr.String(),
			Outcome: schemas.OutcomeFailure, FailureReason: reason, UserAgent: browser, AuthMethod: "password"}
		if i%100 == 99 { // the list holds a few valid passwords
			ev.Outcome, ev.FailureReason = schemas.OutcomeSuccess, ""
		}
		s := r.score(ev)
		r.ordinary(at.Add(time.Second), at.Add(4*time.Second), 20)
		verdict := s.Decision.Decision
		if verdict == schemas.VerdictLockout {
			lockouts++
		}
		if !s.Features.AttackMode {
			before++
			if verdict == schemas.VerdictAllow {
				allowedBefore++
			}
			continue
		}
		if modeOn.IsZero() {
			modeOn = at
		}
		afterOn++
		if verdict != schemas.VerdictAllow {
			caughtAfterOn++
		}
	}
	if len(addrs) != tries {
		t.Fatalf("%d distinct addresses, want %d", len(addrs), tries)
	}
	t.Logf("mode on at try %d (%s); before: %d/%d allowed; after: %d/%d challenged or worse; %d lockouts",
		before, modeOn.Format(time.TimeOnly), allowedBefore, before, caughtAfterOn, afterOn, lockouts)
	if modeOn.IsZero() {
		t.Fatal("the campaign never turned attack mode on")
	}
	if afterOn < tries/2 {
		t.Errorf("attack mode on for only %d of %d tries, want it on for most of the campaign", afterOn, tries)
	}
	if allowedBefore < before*8/10 {
		t.Errorf("before the mode, %d of %d tries were allowed: the per-address rules were meant not to see this campaign", allowedBefore, before)
	}
	if share := float64(caughtAfterOn) / float64(afterOn); share < 0.8 {
		t.Errorf("%.1f %% of the campaign's tries after the mode turned on were challenged or worse, want >= 80 %%", 100*share)
	}
	if lockouts != 0 {
		t.Errorf("%d lockouts in the campaign, want none (the mode challenges, never locks)", lockouts)
	}
	if st := r.eng.AttackMode(); !st.On || st.Since != modeOn {
		t.Errorf("status %+v, want on since %s", st, modeOn)
	}
	// The campaign stops: the mode ends once the rates are back to normal.
	end := campaignAt.Add(tries * 3 * time.Second)
	r.ordinary(end, end.Add(time.Hour), 20)
	if st := r.eng.AttackMode(); st.On {
		t.Errorf("attack mode still on an hour after the campaign: %+v", st)
	}
	changes := r.eng.AttackModeChanges()
	if len(changes) != 2 || !changes[0].Status.On || changes[1].Status.On || !changes[0].Status.Since.Equal(modeOn) {
		t.Errorf("changes %+v, want one start at %s and one end", changes, modeOn)
	}
	if again := r.eng.AttackModeChanges(); len(again) != 0 {
		t.Errorf("changes returned twice: %+v", again)
	}
	for _, msg := range []string{`msg="attack mode started"`, `msg="attack mode ended"`} {
		if n := strings.Count(r.logs.String(), msg); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", msg, n, r.logs)
		}
	}
}

// TestAttackModeIgnoresMondayPeak: a week's baseline learned from ordinary
// traffic, then Monday 09:00-10:00 at five times the usual rate with the
// usual typo rate. The volume is above the minimum and the failure rate is
// five times the baseline, but the failures look like every hour's: the
// mode stays off.
func TestAttackModeIgnoresMondayPeak(t *testing.T) {
	r := newAttackRig(t)
	sunday := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	peak := sunday.Add(33 * time.Hour) // Monday 09:00
	if peak.Weekday() != time.Monday || peak.Hour() != 9 {
		t.Fatalf("peak at %s", peak)
	}
	if on := r.ordinary(sunday, peak, 20); !on.IsZero() {
		t.Fatalf("ordinary traffic turned attack mode on at %s", on)
	}
	if on := r.ordinary(peak, peak.Add(time.Hour), 100); !on.IsZero() {
		t.Errorf("the Monday-morning peak turned attack mode on at %s: %+v", on, r.eng.AttackMode())
	}
	st := r.eng.AttackMode()
	t.Logf("at the end of the peak: %+v", st)
	if st.Failures15m < engine.DefaultAttackModeConfig().MinFailures || st.FailureRateRatio < engine.DefaultAttackModeConfig().RateFactor {
		t.Errorf("the peak was too small to test anything: %d failures, %.1f× the baseline", st.Failures15m, st.FailureRateRatio)
	}
	if on := r.ordinary(peak.Add(time.Hour), peak.Add(3*time.Hour), 20); !on.IsZero() {
		t.Errorf("ordinary traffic after the peak turned attack mode on at %s", on)
	}
	if changes := r.eng.AttackModeChanges(); len(changes) != 0 {
		t.Errorf("changes %+v, want none", changes)
	}
}

// TestAttackModeFeaturesAreFilled: every feature of the attack-mode group
// takes a non-zero value during a campaign (the features package's
// TestEveryFeatureIsFilled leaves them to this test).
func TestAttackModeFeaturesAreFilled(t *testing.T) {
	r := newAttackRig(t)
	start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
	r.ordinary(start, start.Add(2*time.Hour), 20)
	filled := map[string]bool{}
	typ := reflect.TypeFor[schemas.Features]()
	at := start.Add(2 * time.Hour)
	known := slices.Sorted(maps.Keys(r.home))
	for i := range 300 {
		ev := &schemas.LoginEvent{EventID: fmt.Sprintf("fill-%d", i), OccurredAt: at.Add(time.Duration(i) * time.Second),
			UserID: fmt.Sprintf("nobody-%d", i), IP: fmt.Sprintf("90.84.%d.%d", i/200, 1+i%200), Outcome: schemas.OutcomeFailure, FailureReason: "unknown_user"}
		if i%2 == 0 { // a known account that never failed
			ev.UserID, ev.FailureReason = known[i], "bad_password"
		}
		f := reflect.ValueOf(*r.score(ev).Features)
		for j := range typ.NumField() {
			if !f.Field(j).IsZero() {
				filled[typ.Field(j).Tag.Get("expr")] = true
			}
		}
	}
	for j := range typ.NumField() {
		name := typ.Field(j).Tag.Get("expr")
		if (name == "attack_mode" || strings.HasPrefix(name, "platform_")) && !filled[name] {
			t.Errorf("%s is never set", name)
		}
	}
}

// TestAttackModeIsDeterministic: the mode runs on event time only, so the
// same events give the same mode and signals at every event, run after
// run, whatever the wall clock.
func TestAttackModeIsDeterministic(t *testing.T) {
	run := func() []string {
		r := newAttackRig(t)
		start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
		r.ordinary(start, start.Add(2*time.Hour), 20)
		var trace []string
		for i := range 200 {
			ev := &schemas.LoginEvent{EventID: fmt.Sprintf("det-%d", i), OccurredAt: start.Add(2*time.Hour + time.Duration(i)*2*time.Second),
				UserID: fmt.Sprintf("nobody-%d", i), IP: fmt.Sprintf("90.84.%d.%d", i/200, 1+i%200), Outcome: schemas.OutcomeFailure, FailureReason: "unknown_user"}
			f := r.score(ev).Features
			trace = append(trace, fmt.Sprintf("%t %d %.6f %.6f", f.AttackMode, f.PlatformFailures15m, f.PlatformFailureRateRatio, f.PlatformNeverFailRatio))
		}
		for _, c := range r.eng.AttackModeChanges() {
			trace = append(trace, fmt.Sprintf("change %t %s", c.Status.On, c.Status.Since))
		}
		return trace
	}
	first, second := run(), run()
	if !strings.HasPrefix(first[len(first)-1], "change true") {
		t.Fatalf("the burst did not turn the mode on: %v", first[len(first)-3:])
	}
	if !slices.Equal(first, second) {
		t.Errorf("two runs of the same events differ")
	}
}
