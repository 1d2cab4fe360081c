package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/expr-lang/expr/builtin"

	"github.com/loginrisk/loginrisk/schemas"
)

// loadOneRule loads a rule set of one rule with the given id and `when`.
func loadOneRule(id, when string) (*Set, error) {
	yaml := fmt.Sprintf("rules:\n  - id: %s\n    when: %q\n    weight: 10\n", id, when)
	return LoadFS(fstest.MapFS{"rules.yaml": {Data: []byte(yaml)}}, ".")
}

// assertRejected loads a rule and requires a load error on its `when`
// naming the rule, whose message contains want.
func assertRejected(t *testing.T, id, when, want string) {
	t.Helper()
	_, err := loadOneRule(id, when)
	if err == nil {
		t.Fatalf("%s loaded; want it rejected", when)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Rule != id || le.Field != "when" {
		t.Fatalf("error %v does not name rule %s and its when", err, id)
	}
	if !strings.Contains(err.Error(), "rule "+id) || !strings.Contains(le.Msg, want) {
		t.Errorf("error %q, want it to name rule %s and say %q", err, id, want)
	}
}

// TestSandboxRejectsEscapes tries what a rule must not do — read the
// environment or files, call methods on values, reach expr's environment
// variables, call functions outside rules/README.md's list — and requires
// each to fail at load with an error naming the rule. (The golden folders
// testdata/disallowed_functions and testdata/sandbox_constructs hold a few
// more.)
func TestSandboxRejectsEscapes(t *testing.T) {
	tests := []struct {
		name, when, want string
	}{
		{"os_getenv", `os.Getenv("HOME") != ""`, "member access"},
		{"bare_getenv", `Getenv("HOME") != ""`, "unknown function Getenv"},
		{"env_call", `env("HOME") == "/root"`, "unknown function env"},
		{"exec_call", `exec("id") == ""`, "unknown function exec"},
		{"env_member", `$env.HOME == "/root"`, "$env is not available"},
		{"env_index", `$env["PATH"] != ""`, "$env is not available"},
		{"env_alone", `$env != nil`, "$env is not available"},
		{"method_on_string", `user_id.Len() > 0`, "member access"},
		{"method_on_bool", `new_city.String() == "true"`, "member access"},
		{"index_string", `user_id[0] == "a"`, "indexing"},
		{"slice_string", `user_id[0:2] == "ad"`, "indexing"},
		{"optional_chain", `user_id?.x == nil`, "member access"},
		{"nil_coalesce", `(user_id ?? "x") == "x"`, "operator ?? is not available"},
		{"pointer", `# > 1`, "unexpected token"},
		{"variable", `let home = "x"; home == user_id`, "let is not available"},
		{"map_literal", `{"a": user_id}.a == "x"`, "maps are not available"},
		{"dynamic_regex", `user_agent matches user_id`, "string literal pattern"},
		{"nested_maps_over_huge_ranges", `len(map(1..1000000000, map(1..1000000000, #))) > 0`, "builtin map is not available"},
		{"sum_of_huge_range", `sum(1..1000000000) > 0`, "builtin sum is not available"},
		{"float_range_bound", `hour_utc in 1..1e9`, "integer literals"},
		{"range_outside_in", `len(1..1000000000) > 0`, "only allowed as `x in 1..5`"},
		{"range_of_features", `hour_utc in 0..user_failures_1h`, "integer literals"},
		// Found by this test: a float `in` a huge integer range loaded, then
		// built the range on every login.
		{"float_in_huge_range", `travel_km in 1..1000000000`, "range of more than 64 values"},
		{"float_in_range_at_int_limits", `travel_km in 0..9223372036854775807`, "range of more than 64 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assertRejected(t, tc.name, tc.when, tc.want) })
	}
}

// TestSandboxBuiltinsAllowList calls every expr builtin: those listed in
// rules/README.md load, every other one is rejected naming the rule.
func TestSandboxBuiltinsAllowList(t *testing.T) {
	calls := map[string]string{ // a well-typed call of each allowed builtin
		"len": `len(user_id) > 3`, "abs": `abs(travel_km) > 3`, "min": `min(travel_km, 5) > 3`,
		"max": `max(travel_km, 5) > 3`, "lower": `lower(user_id) == "a"`, "upper": `upper(user_id) == "A"`,
		"hasPrefix": `hasPrefix(user_id, "a")`, "hasSuffix": `hasSuffix(user_id, "a")`,
	}
	rejected := 0
	for _, fn := range builtin.Builtins {
		t.Run(fn.Name, func(t *testing.T) {
			id := "calls_" + strings.ToLower(fn.Name)
			if slices.Contains(allowedBuiltins, fn.Name) {
				if _, err := loadOneRule(id, calls[fn.Name]); err != nil {
					t.Fatalf("allowed builtin %s: %v", fn.Name, err)
				}
				return
			}
			call := fn.Name + "(user_id)"
			if fn.Predicate {
				call = fn.Name + "(1..1000000000, # > 1)"
			}
			assertRejected(t, id, call+" == 1", fn.Name)
			rejected++
		})
	}
	if rejected < 40 {
		t.Errorf("only %d builtins were tried and rejected; expr has more", rejected)
	}
	for _, name := range allowedBuiltins {
		if _, ok := calls[name]; !ok {
			t.Errorf("allowed builtin %s has no call in this test", name)
		}
	}
}

// TestSandboxRangesAreBounded shows that an accepted range costs nothing
// per login: an integer feature `in` any integer range is two comparisons,
// and a float feature only gets small ranges.
func TestSandboxRangesAreBounded(t *testing.T) {
	set, err := LoadFS(fstest.MapFS{"rules.yaml": {Data: []byte(`
rules:
  - {id: wide_int_range, when: "hour_utc in 5..1000000000", weight: 10}
  - {id: small_float_range, when: "travel_km in 1..64", weight: 10}
`)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	wide, _ := set.Rule("wide_int_range")
	if wide.fast == nil {
		t.Fatal("wide_int_range was not lowered to two comparisons")
	}
	var res Result
	set.Evaluate(&schemas.Features{HourUTC: 7, TravelKm: 64}, invalidAddr, &res)
	if got := ids(res.Matched); got != "wide_int_range small_float_range" || res.Errors != 0 {
		t.Fatalf("matched %q errors %d (%v)", got, res.Errors, res.Err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		set.Evaluate(&schemas.Features{HourUTC: 7, TravelKm: 2.5}, invalidAddr, &res)
	})
	// The float range runs on expr's VM, which builds the 64 values and
	// boxes each one it compares: bounded, not free.
	if allocs > 80 {
		t.Errorf("evaluating the ranges allocates %.0f times per run", allocs)
	}
	assertRejected(t, "just_too_wide", "travel_km in 1..65", "range of more than 64 values")
}
