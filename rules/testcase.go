package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
	"go.yaml.in/yaml/v3"
)

// TestCase is one rule test case from DIR/tests/*.yaml. A features case
// (Features != nil) scores one feature vector with the rule set alone; an
// events case (Events != nil) replays login events through the engine,
// which owns the state the features come from.
type TestCase struct {
	Name string
	File string
	Line int

	// Features are the case's features applied onto a zero
	// schemas.Features; Addr is its ip feature parsed (invalid if unset).
	Features *schemas.Features
	Addr     netip.Addr

	// Events are the case's login events in order, times resolved.
	Events []TestEvent

	// Expect is what the decision for the features, or for the last event,
	// must be. ExpectEach, for events cases instead of Expect, has one
	// expectation per event.
	Expect     *Expectation
	ExpectEach []Expectation
}

// TestEvent is a login event of a test case, in the compact form test files
// use. Event ids are the engine's to assign.
type TestEvent struct {
	At            time.Time
	User          string
	IP            string
	Outcome       schemas.Outcome
	UserAgent     string
	DeviceID      string
	FailureReason string
	AuthMethod    string
	PasswordFP    string
	// Line is the event's line in its file, for error messages.
	Line int
}

// LoginEvent returns the event as a schemas.LoginEvent with the given id.
// It does not validate it (schemas.Validate does).
func (e TestEvent) LoginEvent(eventID string) schemas.LoginEvent {
	return schemas.LoginEvent{
		EventID:       eventID,
		OccurredAt:    e.At,
		UserID:        e.User,
		Outcome:       e.Outcome,
		IP:            e.IP,
		UserAgent:     e.UserAgent,
		DeviceID:      e.DeviceID,
		FailureReason: e.FailureReason,
		AuthMethod:    e.AuthMethod,
		PasswordFP:    e.PasswordFP,
	}
}

// Expectation is what a decision must be. Unset fields are not checked:
// Rules and Shadow when nil (an empty list means "none"), Score when nil,
// LockScope when empty.
type Expectation struct {
	Decision schemas.Verdict
	// Rules is the exact set of matched active rule ids, in any order.
	Rules []string
	// Shadow is the exact set of matched shadow rule ids, in any order.
	Shadow    []string
	Score     *int
	LockScope schemas.LockScope
	Line      int
}

// Check compares a decision with the expectation and describes every
// difference, or returns nil.
func (e *Expectation) Check(d *schemas.Decision) error {
	var diffs []string
	if d.Decision != e.Decision {
		diffs = append(diffs, fmt.Sprintf("decision: got %s, want %s", d.Decision, e.Decision))
	}
	if e.Rules != nil {
		got := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			got[i] = r.Rule
		}
		diffs = appendSetDiff(diffs, "rules", got, e.Rules)
	}
	if e.Shadow != nil {
		got := make([]string, len(d.Shadow))
		for i, r := range d.Shadow {
			got[i] = r.Rule
		}
		diffs = appendSetDiff(diffs, "shadow", got, e.Shadow)
	}
	if e.Score != nil && d.Score != *e.Score {
		diffs = append(diffs, fmt.Sprintf("score: got %d, want %d", d.Score, *e.Score))
	}
	if e.LockScope != "" {
		var got schemas.LockScope
		if d.Lock != nil {
			got = d.Lock.Scope
		}
		if got != e.LockScope {
			diffs = append(diffs, fmt.Sprintf("lock_scope: got %q, want %q", got, e.LockScope))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return errors.New(strings.Join(diffs, "; "))
}

// appendSetDiff compares two id lists as sets.
func appendSetDiff(diffs []string, field string, got, want []string) []string {
	var missing, unexpected []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			unexpected = append(unexpected, g)
		}
	}
	if len(missing) == 0 && len(unexpected) == 0 {
		return diffs
	}
	msg := fmt.Sprintf("%s: got %v, want %v", field, got, want)
	if len(missing) > 0 {
		msg += fmt.Sprintf(", missing %v", missing)
	}
	if len(unexpected) > 0 {
		msg += fmt.Sprintf(", unexpected %v", unexpected)
	}
	return append(diffs, msg)
}

// ErrNotFeaturesCase is returned (wrapped) by RunFeatureCase for an events
// case, which needs the engine.
var ErrNotFeaturesCase = errors.New("not a features: case")

// RunFeatureCase scores a features case with set and checks its
// expectation. It returns nil when the case passes, else an error naming
// the case and describing every difference.
func RunFeatureCase(set *Set, tc TestCase) error {
	if tc.Features == nil || tc.Expect == nil {
		return fmt.Errorf("%s:%d: %s: %w", tc.File, tc.Line, tc.Name, ErrNotFeaturesCase)
	}
	var r Result
	set.Evaluate(tc.Features, tc.Addr, &r)
	d := schemas.Decision{
		Score:    r.Score,
		Decision: r.Verdict,
		Reasons:  r.Reasons(tc.Features, nil),
		Shadow:   r.ShadowHits(nil),
	}
	if r.Verdict == schemas.VerdictLockout {
		d.Lock = &schemas.Lock{Scope: r.Lock.Scope, Rule: r.Lock.Rule}
	}
	if err := tc.Expect.Check(&d); err != nil {
		return fmt.Errorf("%s:%d: %s: %w", tc.File, tc.Line, tc.Name, err)
	}
	return nil
}

// LoadTests loads the test cases in dir/tests/*.yaml (dir is a rules
// folder). A folder without tests/ has no cases and no error. All problems
// of all files are returned together, as *LoadError.
// The files are read as Load reads rule files.
func LoadTests(dir string) ([]TestCase, error) {
	folder, err := openFolder(dir)
	if err != nil {
		return nil, fmt.Errorf("loading rule tests %s: %w", filepath.Join(dir, "tests"), err)
	}
	defer folder.close()
	return loadTests(folder, ".", func(name string) string { return filepath.Join(dir, "tests", name) })
}

// LoadTestsFS is LoadTests on a file system; dir is a path in fsys.
func LoadTestsFS(fsys fs.FS, dir string) ([]TestCase, error) {
	return loadTests(fsys, dir, func(name string) string { return path.Join(dir, "tests", name) })
}

// DefaultTests loads the test cases of the shipped rule set.
func DefaultTests() ([]TestCase, error) {
	return loadTests(defaultFiles, "default", func(name string) string { return path.Join("rules/default/tests", name) })
}

// testEpoch is when an events case starts unless its first event says.
var testEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func loadTests(fsys fs.FS, dir string, display func(string) string) ([]TestCase, error) {
	names, contents, err := readYAMLFiles(fsys, path.Join(dir, "tests"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading rule tests %s: %w", display(""), err)
	}
	var cases []TestCase
	var errs []error
	for i, name := range names {
		tp := &testParser{fileParser: fileParser{file: display(name)}}
		cases = append(cases, tp.parse(contents[i])...)
		errs = append(errs, tp.errs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cases, nil
}

type testParser struct {
	fileParser
}

// parse reads a test file: a list of cases.
func (p *testParser) parse(data []byte) []TestCase {
	const want = "a list of test cases"
	root := p.parseYAML(data, want)
	if root == nil {
		return nil
	}
	if root.Kind != yaml.SequenceNode {
		// Not a test file: its error quotes nothing of it.
		p.errorf(root.Line, "", "", "not a test file: want %s, got %s", want, kindOf(root))
		return nil
	}
	var cases []TestCase
	p.list(root, "", "", func(item *yaml.Node) {
		if tc, ok := p.testCase(item); ok {
			cases = append(cases, tc)
		}
	})
	return cases
}

func (p *testParser) testCase(n *yaml.Node) (TestCase, bool) {
	before := len(p.errs)
	tc := TestCase{File: p.file, Line: n.Line}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "", "", "want a test case (a mapping), got %s", kindOf(n))
		return tc, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" {
			tc.Name, _ = p.str(n.Content[i+1], "", "name")
		}
	}
	label := fmt.Sprintf("test %q", tc.Name)
	if tc.Name == "" {
		label = "test"
		p.errorf(n.Line, "", "test: name", "required")
	}
	var eventsNode *yaml.Node
	p.mapping(n, "", label, func(key string, k, v *yaml.Node) {
		field := label + ": " + key
		switch key {
		case "name":
		case "features":
			f := new(schemas.Features)
			p.mapping(v, "", field, func(name string, fk, fv *yaml.Node) {
				if err := setFeature(f, name, fv); err != nil {
					p.errorf(fk.Line, "", field, "%v", err)
				}
			})
			tc.Features = f
			if f.IP != "" {
				addr, err := schemas.ParseIP(f.IP)
				if err != nil {
					p.errorf(v.Line, "", field+".ip", "%q is not an IP address", f.IP)
				}
				tc.Addr = addr
			}
		case "events":
			eventsNode = v
			tc.Events = p.events(v, field)
		case "expect":
			tc.Expect = p.expectation(v, field)
		case "expect_each":
			p.list(v, "", field, func(item *yaml.Node) {
				if e := p.expectation(item, field); e != nil {
					tc.ExpectEach = append(tc.ExpectEach, *e)
				}
			})
		default:
			p.errorf(k.Line, "", field, "unknown field; a test case has name, features or events, expect or expect_each")
		}
	})
	switch {
	case tc.Features != nil && eventsNode != nil:
		p.errorf(n.Line, "", label, "has both features: and events:; a case has one")
	case tc.Features == nil && eventsNode == nil:
		p.errorf(n.Line, "", label, "needs features: or events:")
	case tc.Features != nil && tc.Expect == nil:
		p.errorf(n.Line, "", label, "a features: case needs expect:")
	case tc.Features != nil && tc.ExpectEach != nil:
		p.errorf(n.Line, "", label, "expect_each: is for events: cases")
	case eventsNode != nil && (tc.Expect == nil) == (tc.ExpectEach == nil):
		p.errorf(n.Line, "", label, "an events: case needs either expect: (last event) or expect_each: (every event)")
	case tc.ExpectEach != nil && len(tc.ExpectEach) != len(tc.Events):
		p.errorf(n.Line, "", label, "expect_each has %d entries for %d events (after repeat)", len(tc.ExpectEach), len(tc.Events))
	}
	return tc, len(p.errs) == before
}

// events reads an events list. `at` is an RFC 3339 time or an offset such
// as "+30s" from the previous event (the first from 2026-01-01T00:00:00Z);
// without it an event is 1s after the previous one. `repeat: N` stands for
// N copies, `every` (default 1s) apart.
func (p *testParser) events(n *yaml.Node, field string) []TestEvent {
	var out []TestEvent
	prev := testEpoch
	first := true
	p.list(n, "", field, func(item *yaml.Node) {
		ev := TestEvent{Line: item.Line, Outcome: schemas.OutcomeSuccess}
		repeat, every := 1, time.Second
		var at string
		// The fields that are plain strings.
		text := map[string]*string{
			"at": &at, "user": &ev.User, "ip": &ev.IP, "user_agent": &ev.UserAgent, "device_id": &ev.DeviceID,
			"failure_reason": &ev.FailureReason, "auth_method": &ev.AuthMethod, "password_fp": &ev.PasswordFP,
		}
		p.mapping(item, "", field, func(key string, k, v *yaml.Node) {
			sub := field + "." + key
			if dst, ok := text[key]; ok {
				*dst, _ = p.str(v, "", sub)
				return
			}
			switch key {
			case "outcome":
				if s, ok := p.str(v, "", sub); ok {
					ev.Outcome = schemas.Outcome(s)
					if ev.Outcome != schemas.OutcomeSuccess && ev.Outcome != schemas.OutcomeFailure {
						p.errorf(v.Line, "", sub, "%q is not success or failure", s)
					}
				}
			case "repeat":
				if r, ok := p.integer(v, "", sub); ok {
					if r < 1 || r > 10000 {
						p.errorf(v.Line, "", sub, "%d is outside 1..10000", r)
					} else {
						repeat = r
					}
				}
			case "every":
				if d, ok := p.duration(v, "", sub); ok {
					every = d
				}
			default:
				p.errorf(k.Line, "", sub, "unknown field; an event has at, user, ip, outcome, user_agent, device_id, failure_reason, auth_method, password_fp, repeat, every")
			}
		})
		if ev.User == "" || ev.IP == "" {
			p.errorf(item.Line, "", field, "an event needs user and ip")
		}
		switch {
		case at == "" && first:
			ev.At = prev
		case at == "":
			ev.At = prev.Add(time.Second)
		case strings.HasPrefix(at, "+"):
			d, err := time.ParseDuration(at[1:])
			if err != nil || d < 0 {
				p.errorf(item.Line, "", field+".at", "%q is neither an RFC 3339 time nor an offset such as +30s", at)
			}
			ev.At = prev.Add(d)
		default:
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				p.errorf(item.Line, "", field+".at", "%q is neither an RFC 3339 time nor an offset such as +30s", at)
			}
			ev.At = t.UTC()
		}
		first = false
		for i := range repeat {
			e := ev
			e.At = ev.At.Add(time.Duration(i) * every)
			out = append(out, e)
			prev = e.At
		}
	})
	return out
}

func (p *testParser) expectation(n *yaml.Node, field string) *Expectation {
	e := &Expectation{Line: n.Line}
	ids := func(v *yaml.Node, sub string) []string {
		out := []string{}
		p.list(v, "", sub, func(item *yaml.Node) {
			if s, ok := p.str(item, "", sub); ok {
				out = append(out, s)
			}
		})
		return out
	}
	p.mapping(n, "", field, func(key string, k, v *yaml.Node) {
		sub := field + "." + key
		switch key {
		case "decision":
			if s, ok := p.str(v, "", sub); ok {
				switch d := schemas.Verdict(s); d {
				case schemas.VerdictAllow, schemas.VerdictChallenge, schemas.VerdictLockout:
					e.Decision = d
				default:
					p.errorf(v.Line, "", sub, "%q is not one of allow, challenge, lockout", s)
				}
			}
		case "rules":
			e.Rules = ids(v, sub)
		case "shadow":
			e.Shadow = ids(v, sub)
		case "score":
			if s, ok := p.integer(v, "", sub); ok {
				e.Score = &s
			}
		case "lock_scope":
			if s, ok := p.str(v, "", sub); ok {
				if sc := schemas.LockScope(s); sc.Valid() {
					e.LockScope = sc
				} else {
					p.errorf(v.Line, "", sub, "%q is not one of %s", s, schemas.LockScopeNames())
				}
			}
		default:
			p.errorf(k.Line, "", sub, "unknown field; an expectation has decision, rules, shadow, score, lock_scope")
		}
	})
	if e.Decision == "" {
		p.errorf(n.Line, "", field+".decision", "required")
		return nil
	}
	return e
}
