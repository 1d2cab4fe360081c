package rules

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestDefaultFeatureCases runs every features: case shipped in
// rules/default/tests against the shipped set.
func TestDefaultFeatureCases(t *testing.T) {
	set := shippedSet(t)
	cases, err := DefaultTests()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	features := 0
	for _, tc := range cases {
		if tc.Features == nil {
			continue
		}
		features++
		t.Run(tc.Name, func(t *testing.T) {
			if err := RunFeatureCase(set, tc); err != nil {
				t.Error(err)
			}
		})
		for _, id := range tc.Expect.Rules {
			covered[id] = true
		}
		for _, id := range tc.Expect.Shadow {
			covered[id] = true
		}
	}
	if features < 2*len(set.Rules()) {
		t.Errorf("%d features cases for %d rules; want a match and a near miss for each", features, len(set.Rules()))
	}
	for _, id := range set.IDs() {
		if !covered[id] {
			t.Errorf("rule %s has no features case expecting it to match", id)
		}
	}
}

func TestRunFeatureCaseReportsDifferences(t *testing.T) {
	set := shippedSet(t)
	score := 99
	tc := TestCase{Name: "wrong on purpose", File: "t.yaml", Line: 3,
		Features: &schemas.Features{Success: true, UserKnown: true, NewCity: true, ResidentialProxy: true},
		Expect: &Expectation{Decision: schemas.VerdictLockout, Rules: []string{"new_device"}, Shadow: []string{},
			Score: &score, LockScope: schemas.ScopeIP}}
	err := RunFeatureCase(set, tc)
	if err == nil {
		t.Fatal("passed")
	}
	for _, want := range []string{
		"t.yaml:3: wrong on purpose: ",
		"decision: got challenge, want lockout",
		"rules: got [unfamiliar_city], want [new_device], missing [new_device], unexpected [unfamiliar_city]",
		"shadow: got [residential_proxy], want [], unexpected [residential_proxy]",
		"score: got 30, want 99",
		`lock_scope: got "", want "ip"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := RunFeatureCase(set, TestCase{Name: "events", Events: []TestEvent{{}}}); !errors.Is(err, ErrNotFeaturesCase) {
		t.Errorf("events case: %v, want ErrNotFeaturesCase", err)
	}
}

func TestLoadTestsEvents(t *testing.T) {
	fsys := fstest.MapFS{"rules/tests/e.yaml": {Data: []byte(`
- name: burst
  events:
    - {at: "2026-03-02T09:00:00Z", user: alice, ip: 198.51.100.7, outcome: failure, repeat: 3, every: 20s}
    - {at: "+1m", user: alice, ip: 198.51.100.7, user_agent: curl/8, device_id: d1}
    - {user: alice, ip: 198.51.100.7, outcome: failure, failure_reason: bad_password, auth_method: password}
  expect: {decision: lockout, lock_scope: user_ip}
`)}}
	cases, err := LoadTestsFS(fsys, "rules")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].Features != nil || cases[0].Expect == nil {
		t.Fatalf("cases %+v", cases)
	}
	ev := cases[0].Events
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	wantAt := []time.Time{start, start.Add(20 * time.Second), start.Add(40 * time.Second), start.Add(100 * time.Second), start.Add(101 * time.Second)}
	if len(ev) != len(wantAt) {
		t.Fatalf("%d events, want %d", len(ev), len(wantAt))
	}
	for i, e := range ev {
		if !e.At.Equal(wantAt[i]) {
			t.Errorf("event %d at %s, want %s", i, e.At, wantAt[i])
		}
	}
	if ev[3].Outcome != schemas.OutcomeSuccess || ev[3].UserAgent != "curl/8" || ev[4].FailureReason != "bad_password" {
		t.Errorf("events %+v", ev)
	}
	le := ev[4].LoginEvent("e5")
	if err := schemas.Validate(&le); err != nil {
		t.Errorf("LoginEvent does not validate: %v", err)
	}
}

func TestLoadTestsErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"unknown feature", `
- name: typo
  features: {user_failurs_15m: 5}
  expect: {decision: allow}
`, []string{`t.yaml:3: test "typo": features: unknown feature "user_failurs_15m"`}},
		{"wrong value types", `
- name: types
  features: {user_failures_15m: lots, new_city: yes please, travel_km: fast}
  expect: {decision: maybe}
`, []string{
			`t.yaml:3: test "types": features: feature user_failures_15m: "lots" is not an integer`,
			`feature new_city: "yes please" is not a boolean`,
			`feature travel_km: "fast" is not a number`,
			`t.yaml:4: test "types": expect.decision: "maybe" is not one of allow, challenge, lockout`,
		}},
		{"shape", `
- name: both
  features: {tor_exit: true}
  events: [{user: a, ip: 1.2.3.4}]
  expect: {decision: allow}
- name: neither
  expect: {decision: allow}
- name: no expectation
  features: {tor_exit: true}
- features: {tor_exit: true}
  expect: {decision: allow}
- name: counts
  events: [{user: a, ip: 1.2.3.4, repeat: 2}]
  expect_each: [{decision: allow}]
- name: bad event
  events: [{user: a, at: yesterday, outcome: maybe, colour: red}]
  expect: {decision: allow}
`, []string{
			`t.yaml:2: test "both": has both features: and events:`,
			`t.yaml:6: test "neither": needs features: or events:`,
			`t.yaml:8: test "no expectation": a features: case needs expect:`,
			`t.yaml:10: test: name: required`,
			`t.yaml:12: test "counts": expect_each has 1 entries for 2 events (after repeat)`,
			`test "bad event": events.outcome: "maybe" is not success or failure`,
			`test "bad event": events.colour: unknown field`,
			`test "bad event": events: an event needs user and ip`,
			`test "bad event": events.at: "yesterday" is neither an RFC 3339 time nor an offset`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"r/tests/t.yaml": {Data: []byte(tt.file)}}
			_, err := LoadTestsFS(fsys, "r")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), strings.Replace(w, "t.yaml", "r/tests/t.yaml", 1)) {
					t.Errorf("error\n%s\nlacks %q", err, w)
				}
			}
		})
	}
	if cases, err := LoadTestsFS(fstest.MapFS{"r/a.yaml": {Data: []byte("rules: []")}}, "r"); err != nil || cases != nil {
		t.Errorf("folder without tests/: %v, %v; want no cases and no error", cases, err)
	}
}
