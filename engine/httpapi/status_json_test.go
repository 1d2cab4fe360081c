package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// mapStatus is engine.Status with its counters in a map, as
// encoding/json encodes a map: the reference of the counters' encoding.
type mapStatus struct {
	Locks        []schemas.Lock           `json:"locks"`
	Counters     map[string]float64       `json:"counters"`
	LastDecision *schemas.Decision        `json:"last_decision,omitempty"`
	Trusted      []schemas.TrustedContext `json:"trusted,omitempty"`
}

// encodeStatusBoth encodes st with appendStatus and, as a reference,
// with encoding/json, the counters as a map. encoding/json of st itself
// (the console's subject view) must give the same.
func encodeStatusBoth(t *testing.T, st *engine.Status) (got, want []byte) {
	t.Helper()
	got, err := appendStatus(nil, st)
	if err != nil {
		t.Fatalf("appendStatus(%+v): %v", *st, err)
	}
	ref := mapStatus{Locks: st.Locks, LastDecision: st.LastDecision, Trusted: st.Trusted}
	if st.Counters != nil {
		ref.Counters = map[string]float64{}
		for _, c := range st.Counters {
			ref.Counters[c.Name] = c.Value
		}
	}
	if want, err = json.Marshal(ref); err != nil {
		t.Fatal(err)
	}
	if direct, err := json.Marshal(st); err != nil || !bytes.Equal(direct, want) {
		t.Errorf("encoding/json of the status: %s, %v; want %s", direct, err, want)
	}
	var back engine.Status
	if err := json.Unmarshal(want, &back); err != nil || !reflect.DeepEqual(back.Counters, st.Counters) {
		t.Errorf("the counters decoded back: %v, %v; want %v", back.Counters, err, st.Counters)
	}
	return got, want
}

// counters are the schemas.Counters of m, sorted by name as a status's.
func counters(m map[string]float64) schemas.Counters {
	c := schemas.Counters{}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		c = append(c, schemas.Counter{Name: name, Value: m[name]})
	}
	return c
}

// The hand-written status encoding is byte for byte encoding/json's.
func TestAppendStatusMatchesEncodingJSON(t *testing.T) {
	until := time.Date(2026, 3, 1, 12, 10, 0, 0, time.UTC)
	d := &schemas.Decision{EventID: "e<1>", UserID: "bob", IP: "192.0.2.1", Decision: schemas.VerdictLockout, Score: 80,
		OccurredAt: until.Add(-10 * time.Minute), DecidedAt: until.Add(-10 * time.Minute), RulesVersion: "v1",
		Lock:    &schemas.Lock{Scope: schemas.ScopeUserIP, Key: "bob|192.0.2.1", Until: until, Rule: "failure_burst"},
		Reasons: []schemas.Reason{{Rule: "failure_burst", Weight: 80, Detail: "5 failures & more"}}}
	tests := []struct {
		name string
		st   engine.Status
	}{
		{name: "empty", st: engine.Status{}},
		{name: "no locks, counters", st: engine.Status{Counters: counters(map[string]float64{"user_failures_1m": 3, "ip_success_ratio_1h": 0.25, "a\"<b>": 1e21})}},
		{name: "lock and last decision", st: engine.Status{
			Locks:        []schemas.Lock{*d.Lock, {Scope: schemas.ScopeUser, Key: "bob", Until: until, Rule: "score"}},
			Counters:     counters(map[string]float64{"user_failures_15m": 5}),
			LastDecision: d}},
		{name: "empty slices", st: engine.Status{Locks: []schemas.Lock{}, Counters: schemas.Counters{}}},
		{name: "account lock and trusted contexts", st: engine.Status{
			Locks:    []schemas.Lock{{Scope: schemas.ScopeUserUntrusted, Key: "bob", Until: until, Rule: "distributed_bruteforce"}},
			Counters: counters(map[string]float64{"user_failures_1h": 60}),
			Trusted: []schemas.TrustedContext{
				{Kind: schemas.TrustedDevice, Key: "laptop \"<1>\"", FirstSeen: until.Add(-21 * 24 * time.Hour), LastSeen: until.Add(-time.Hour)},
				{Kind: schemas.TrustedNetwork, Key: "81.2.69.0/24", FirstSeen: until.Add(-21 * 24 * time.Hour), LastSeen: until.Add(-time.Hour)},
			}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := encodeStatusBoth(t, &tc.st)
			if !bytes.Equal(got, want) {
				t.Errorf("appendStatus:\n%s\nencoding/json:\n%s", got, want)
			}
		})
	}
}

// Counters are numbers as encoding/json writes them, whatever their size:
// integers without an exponent up to 1e21, fractions in decimal between
// 1e-6 and 1e21, an exponent outside; a value JSON cannot hold is an error.
func TestAppendStatusCountersMatchEncodingJSON(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -3, 42, 999_999, 1_000_000, 123_456_789, 1e15, 1e15 + 1,
		9.3e18, 2.5e20, 1e21, 1.5e22, 0.1, 0.25, 1.0 / 3, 1e-6, 1e-7, -2.5e-9, 12345.678} {
		got, want := encodeStatusBoth(t, &engine.Status{Counters: counters(map[string]float64{"n": v})})
		if !bytes.Equal(got, want) {
			t.Errorf("counter %v: appendStatus %s, encoding/json %s", v, got, want)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := appendStatus(nil, &engine.Status{Counters: counters(map[string]float64{"n": v})}); err == nil {
			t.Errorf("counter %v: no error, but JSON has no such number", v)
		}
	}
}
