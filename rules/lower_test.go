package rules

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/expr-lang/expr/vm"
	"github.com/loginrisk/loginrisk/schemas"
)

// loweringCorpus exercises every operator, builtin and helper the sandbox
// admits. interpreted marks expressions that are expected to stay on expr's
// VM.
var loweringCorpus = []struct {
	when        string
	interpreted bool
}{
	{when: `new_city && user_known`},
	{when: `new_city and not user_known`},
	{when: `!tor_exit || hosting`},
	{when: `tor_exit or anonymous_vpn or public_proxy or hosting`},
	{when: `user_failures_15m >= 5`},
	{when: `user_failures_15m > 5 && user_failures_1h < 10 && user_failures_24h <= 20`},
	{when: `user_failures_1m == 1 || user_failures_1m != 2`},
	{when: `5 < user_failures_15m`},
	{when: `travel_speed_kmh > 1000 && travel_km > 500`},
	{when: `travel_km == 1000 || travel_km != 0.5`},
	{when: `travel_km != user_failures_1h`},
	{when: `user_failures_1h == travel_km`},
	{when: `user_failures_1h < travel_km`},
	{when: `travel_km >= user_failures_1h`},
	{when: `ip_failures_1h <= 2 * ip_distinct_users_1h`},
	{when: `ip_failures_1h / ip_distinct_users_1h <= 2`},
	{when: `ip_failures_1h - user_failures_1h + 3 * 2 > 4`},
	{when: `travel_km * 2 - 1.5 > latitude + longitude`},
	{when: `ip_failures_1h % 3 == 1`},
	{when: `2 ** user_failures_1m > 100`},
	{when: `travel_km ^ 2 > 1e6`},
	{when: `-user_failures_1h < -3`},
	{when: `-travel_km < -100`},
	{when: `+user_failures_1h > 2`},
	{when: `ip_success_ratio_1h < 0.2`},
	{when: `user_id == "alice"`},
	{when: `user_id != "alice"`},
	{when: `"alice" == user_id`},
	{when: `country < "M" || country > "X"`},
	{when: `country >= city || country <= city`},
	{when: `user_id + "x" == "alicex"`},
	{when: `tor_exit == hosting`},
	{when: `tor_exit != true`},
	{when: `browser contains "hrom"`},
	{when: `browser startsWith "py" || browser endsWith "requests"`},
	{when: `browser not contains "c"`},
	{when: `not (browser contains "c")`},
	{when: `browser matches "^(curl|python-)"`},
	{when: `browser not matches "(?i)chrome"`},
	{when: `country in ["FR", "DE"]`},
	{when: `country not in ["FR"]`},
	{when: `hour_utc in [1, 2, 3]`},
	{when: `hour_utc in 9..17`},
	{when: `hour_utc not in 9..17`},
	{when: `travel_km in [1000, 0.5]`},
	{when: `user_failures_1h in [1, 2.5]`},
	{when: `tor_exit in [true]`},
	{when: `(tor_exit ? 10 : 0) + (hosting ? 5 : 0) > 7`},
	{when: `(new_city ? travel_km : 0.5) > 100`},
	{when: `(tor_exit ? country : city) == "FR"`},
	{when: `if tor_exit { hosting } else { anonymous }`},
	{when: `len(user_id) > 3`},
	{when: `abs(latitude) > 50`},
	{when: `abs(-user_failures_1h) > 3`},
	{when: `min(user_failures_1h, ip_failures_1h, 10) == 1`},
	{when: `max(travel_km, 0.5, latitude) > 100`},
	{when: `lower(browser) == "chrome"`},
	{when: `upper(country) == "FR"`},
	{when: `user_id | lower() == "alice"`},
	{when: `hasPrefix(ip, "10.") || hasSuffix(user_id, "ce")`},
	{when: `in_cidr(ip, "10.0.0.0/8")`},
	{when: `in_cidr(ip, "2001:db8::/32")`},
	{when: `in_cidr(ip, "192.168.1.1")`},
	{when: `in_cidr(user_id, "10.0.0.0/8")`},
	{when: `equal_fold(browser, "CHROME")`},
	{when: `true`},
	{when: `1 + 1 == 2 && tor_exit`},
	// Left to the VM: a float in an integer range, a modulo that may divide
	// by zero, min / max / ternaries mixing ints and floats.
	{when: `travel_km in 1..5`, interpreted: true},
	{when: `ip_failures_1h % user_failures_1h == 0`, interpreted: true},
	{when: `max(1, travel_km) > 2`, interpreted: true},
	{when: `(tor_exit ? 1 : 2.5) > 2`, interpreted: true},
}

// randomFeatures fills every feature with a value drawn from a small set,
// so that comparisons in the corpus go both ways, including edge values
// (0, 255/256 where boxing changes, NaN, infinities, mapped addresses).
func randomFeatures(rng *rand.Rand) *schemas.Features {
	ints := []int{0, 1, 2, 3, 4, 5, 9, 10, 11, 17, 19, 20, 21, 255, 256, 1000, -1}
	floats := []float64{0, 0.5, 1, 2, 99.5, 100, 500.5, 1000, 1000.5, 1e6, -1, -150, math.NaN(), math.Inf(1), math.Inf(-1)}
	strs := []string{"", "alice", "Alice", "10.1.2.3", "192.168.1.1", "2001:db8::1", "::ffff:10.0.0.1", "FR", "fr", "DE",
		"Paris", "curl", "Chrome", "chrome", "python-requests", "not an ip", "Ça", "ÇA"}
	f := new(schemas.Features)
	v := reflect.ValueOf(f).Elem()
	for _, name := range FeatureNames() {
		ft, _ := lookupFeature(name)
		field := v.Field(ft.index)
		switch ft.kind {
		case reflect.Bool:
			field.SetBool(rng.IntN(2) == 0)
		case reflect.Int:
			field.SetInt(int64(ints[rng.IntN(len(ints))]))
		case reflect.Float64:
			field.SetFloat(floats[rng.IntN(len(floats))])
		case reflect.String:
			field.SetString(strs[rng.IntN(len(strs))])
		}
	}
	return f
}

// TestLoweringMatchesVM runs every corpus expression both ways on random
// features: the closures must answer exactly what expr's VM answers.
func TestLoweringMatchesVM(t *testing.T) {
	set := shippedSet(t)
	type exprCase struct {
		when        string
		interpreted bool
	}
	var all []exprCase
	for _, c := range loweringCorpus {
		all = append(all, exprCase{c.when, c.interpreted})
	}
	for _, r := range set.Rules() {
		all = append(all, exprCase{r.When, false})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]*schemas.Features, 3000)
	for i := range samples {
		samples[i] = randomFeatures(rng)
	}
	for _, c := range all {
		t.Run(c.when, func(t *testing.T) {
			compiled, err := compileWhen(c.when)
			if err != nil {
				t.Fatal(err)
			}
			if c.interpreted {
				if compiled.fast != nil {
					t.Fatal("lowered, but expected to stay on the VM; move it up in the corpus")
				}
				return
			}
			if compiled.fast == nil {
				t.Fatalf("not lowered: %v", compiled.lowerErr)
			}
			var machine vm.VM
			matched := 0
			for i, f := range samples {
				out, err := machine.Run(compiled.program, f)
				if err != nil {
					t.Fatalf("sample %d: VM error %v", i, err)
				}
				got := compiled.fast(f)
				if got != out.(bool) {
					t.Fatalf("sample %d: lowered %v, VM %v; features %+v", i, got, out, *f)
				}
				if got {
					matched++
				}
			}
			t.Logf("matched %d of %d samples", matched, len(samples))
		})
	}
}

// TestInterpretedRules checks the VM path through Evaluate: a rule that is
// not lowered still matches, and a run-time error counts as no match and is
// reported.
func TestInterpretedRules(t *testing.T) {
	set := mustLoadString(t, `
rules:
  - {id: modulo, when: "ip_failures_1h % user_failures_1h == 0", weight: 30}
  - {id: mixed, when: "max(1, travel_km) > 2", weight: 5}
`)
	for _, r := range set.Rules() {
		if r.fast != nil {
			t.Fatalf("rule %s was lowered; this test needs VM rules", r.ID)
		}
	}
	var res Result
	set.Evaluate(&schemas.Features{IPFailures1h: 4, UserFailures1h: 2, TravelKm: 3}, invalidAddr, &res)
	if got := ids(res.Matched); got != "modulo mixed" || res.Verdict != schemas.VerdictChallenge || res.Errors != 0 {
		t.Fatalf("matched %q verdict %s errors %d", got, res.Verdict, res.Errors)
	}
	set.Evaluate(&schemas.Features{IPFailures1h: 4, UserFailures1h: 0}, invalidAddr, &res)
	if len(res.Matched) != 0 || res.Errors != 1 || res.Err == nil {
		t.Fatalf("division by zero: matched %v errors %d err %v", ids(res.Matched), res.Errors, res.Err)
	}
	var evalErr *EvalError
	if !asEvalError(res.Err, &evalErr) || evalErr.Rule != "modulo" {
		t.Fatalf("err %v does not name the rule", res.Err)
	}
}
