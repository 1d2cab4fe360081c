package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected_error.txt from the current output")

// TestLoadErrorsGolden loads every folder under testdata/ and compares the
// error with the folder's expected_error.txt.
func TestLoadErrorsGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", e.Name())
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			golden := filepath.Join(dir, "expected_error.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(err.Error()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test ./rules -run TestLoadErrorsGolden -update to create it)", rerr)
			}
			if got := err.Error(); got != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestLoadErrorStructure checks what callers branch on: LoadError fields,
// every problem listed, and ErrNoRuleFiles.
func TestLoadErrorStructure(t *testing.T) {
	_, err := Load("testdata/unknown_feature")
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v is not a *LoadError", err)
	}
	want := LoadError{File: filepath.Join("testdata/unknown_feature", "auth.yaml"), Line: 5, Rule: "failure_burst", Field: "when"}
	if le.File != want.File || le.Line != want.Line || le.Rule != want.Rule || le.Field != want.Field {
		t.Errorf("got %+v, want %+v", *le, want)
	}
	if !strings.Contains(le.Msg, "unknown name user_failurs_15m") {
		t.Errorf("message %q does not name the unknown feature", le.Msg)
	}

	_, err = Load("testdata/multiple_errors")
	if n := countErrors(err); n != 4 {
		t.Errorf("multiple_errors: %d errors, want 4 (all files, all problems): %v", n, err)
	}

	_, err = Load("testdata/no_rule_files")
	if !errors.Is(err, ErrNoRuleFiles) {
		t.Errorf("empty folder: %v, want ErrNoRuleFiles", err)
	}
	_, err = Load("testdata/does_not_exist")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing folder: %v, want os.ErrNotExist", err)
	}
}

// TestLoadExpressionLimits covers limits that are easier to generate than
// to check in.
func TestLoadExpressionLimits(t *testing.T) {
	tests := []struct {
		name    string
		when    string
		wantErr string
	}{
		{"source over 4 KiB", "tor_exit" + strings.Repeat(" || tor_exit", 400), "more than the 4096 allowed"},
		{"too many nodes", "1" + strings.Repeat("+1", 600) + " > 0", "exceeds maximum allowed nodes"},
		{"empty", `""`, "want a string"},
		{"blank", `" "`, "empty expression"},
		{"within limits", "tor_exit" + strings.Repeat(" || tor_exit", 100), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			when := tt.when
			if !strings.HasPrefix(when, `"`) {
				when = "'" + when + "'"
			}
			if tt.name == "empty" {
				when = "" // `when:` with no value
			}
			fsys := fstest.MapFS{"r.yaml": {Data: []byte("rules:\n  - id: x\n    weight: 1\n    when: " + when + "\n")}}
			_, err := LoadFS(fsys, ".")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case err != nil && !strings.HasPrefix(err.Error(), "r.yaml:4: rule x: when: "):
				t.Fatalf("error %q does not name file, line, rule and field", err)
			}
		})
	}
}

func TestLoadDefault(t *testing.T) {
	set := shippedSet(t)
	if len(set.Version()) != 16 {
		t.Errorf("version %q, want 16 hex digits", set.Version())
	}
	wantIDs := []string{
		"unfamiliar_city", "new_device", "unfamiliar_context", "impossible_travel", "failure_burst", "distributed_bruteforce",
		"slow_guesser", "patient_bruteforce", "password_guessing", "slow_guesser_untrusted", "slow_guesser_week", "patient_bruteforce_account",
		"mfa_fatigue", "failure_then_success", "attack_mode_unfamiliar", "anonymous_ip", "residential_proxy",
		"credential_stuffing", "password_spray", "sprayed_password", "network_spray", "hosting_stuffing", "bot_user_agent",
		"hostile_network",
	}
	if got := set.IDs(); strings.Join(got, " ") != strings.Join(wantIDs, " ") {
		t.Errorf("ids %v, want %v", got, wantIDs)
	}
	for _, r := range set.Rules() {
		if r.fast == nil {
			t.Errorf("rule %s is not lowered (it would run on the VM and allocate)", r.ID)
		}
		if r.Description == "" {
			t.Errorf("rule %s has no description", r.ID)
		}
	}
	p := set.Policy()
	if p.ChallengeAt != 30 || p.LockoutAt != 70 || p.DefaultScope != "user_ip" || p.File != "rules/default/policy.yaml" {
		t.Errorf("policy %+v", p)
	}
	// The files on disk and the embedded copy are the same set.
	fromDisk, err := Load("default")
	if err != nil {
		t.Fatal(err)
	}
	if fromDisk.Version() != set.Version() {
		t.Errorf("Load(default) version %s != Default() version %s", fromDisk.Version(), set.Version())
	}
}

func TestVersion(t *testing.T) {
	base := fstest.MapFS{
		"a.yaml": {Data: []byte("rules:\n  - {id: a, when: tor_exit, weight: 10}\n")},
		"b.yml":  {Data: []byte("rules:\n  - {id: b, when: hosting, weight: 10}\n")},
	}
	version := func(fsys fstest.MapFS) string {
		t.Helper()
		s, err := LoadFS(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		return s.Version()
	}
	clone := func(edit func(fstest.MapFS)) fstest.MapFS {
		c := fstest.MapFS{}
		for k, v := range base {
			c[k] = &fstest.MapFile{Data: v.Data}
		}
		edit(c)
		return c
	}
	v := version(base)
	tests := []struct {
		name string
		fsys fstest.MapFS
		same bool
	}{
		{"same files", clone(func(fstest.MapFS) {}), true},
		{"test files do not count", clone(func(m fstest.MapFS) { m["tests/t.yaml"] = &fstest.MapFile{Data: []byte("[]")} }), true},
		{"other files do not count", clone(func(m fstest.MapFS) { m["README.md"] = &fstest.MapFile{Data: []byte("x")} }), true},
		{"a byte changes", clone(func(m fstest.MapFS) {
			m["a.yaml"] = &fstest.MapFile{Data: []byte("rules:\n  - {id: a, when: tor_exit, weight: 11}\n")}
		}), false},
		{"a file is renamed", clone(func(m fstest.MapFS) { m["c.yaml"] = m["b.yml"]; delete(m, "b.yml") }), false},
		{"a file is added", clone(func(m fstest.MapFS) { m["c.yaml"] = &fstest.MapFile{Data: []byte("rules: []\n")} }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := version(tt.fsys); (got == v) != tt.same {
				t.Errorf("version %s vs %s, same=%v want %v", got, v, got == v, tt.same)
			}
		})
	}
}
