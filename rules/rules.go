// Package rules turns a folder of YAML rule files into a compiled, validated
// rule set and scores login attempts with it: every rule's `when` is an
// expr-lang expression type-checked against schemas.Features at load, the
// weights of the matching rules add up to a score, and a policy turns the
// score, allow and deny lists and forcing rule actions into a verdict.
//
// Sets are immutable once loaded. A Manager holds the current set, reloads
// the folder on demand or when it changes and swaps the whole set at once; a
// failed reload keeps the previous set. See README.md for the file format.
package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/loginrisk/loginrisk/schemas"
)

// Action is what a matching rule forces, regardless of the score.
type Action string

// The actions a rule may force. ActionNone leaves the verdict to the score.
const (
	ActionNone      Action = ""
	ActionAllow     Action = "allow"
	ActionChallenge Action = "challenge"
	ActionLockout   Action = "lockout"
)

// Mode says whether a rule counts.
type Mode string

// The rule modes. A shadow rule is evaluated and reported but never changes
// the score or the verdict: the way to try a new rule on live traffic.
const (
	ModeActive Mode = "active"
	ModeShadow Mode = "shadow"
)

// Rule is one compiled rule. Its fields are read-only: a Set shares its
// rules with every caller.
type Rule struct {
	// ID is unique in the set, [a-z0-9_]+.
	ID          string
	Description string
	// When is the expression source.
	When string
	// Weight is added to the score when the rule matches (-100..100;
	// negative weights are trust signals that lower the score).
	Weight int
	// Action, when set, forces the verdict (see Set.Evaluate).
	Action Action
	// Scope and Duration describe the lock this rule asks for when it
	// decides a lockout; empty / zero mean the policy's default scope and
	// the first rung of the escalation ladder.
	Scope    schemas.LockScope
	Duration time.Duration
	Tags     []string
	Mode     Mode
	// File and Line locate the rule (the line of its `id`).
	File string
	Line int

	detail  template
	program *vm.Program                  // expr's bytecode: the reference and fallback
	fast    func(*schemas.Features) bool // the same expression as typed Go closures; nil if it could not be lowered
}

// Shadow reports whether the rule is in shadow mode.
func (r *Rule) Shadow() bool { return r.Mode == ModeShadow }

// Detail renders the rule's detail template with the feature values of f,
// e.g. "7 failures in 15 min from 3 networks". It returns "" when the rule
// has no detail. It allocates; call it for matched rules only.
func (r *Rule) Detail(f *schemas.Features) string { return r.detail.render(f) }

// String returns the rule's id.
func (r *Rule) String() string { return r.ID }

// Lists are the allow or deny entries of a policy.
type Lists struct {
	CIDRs []netip.Prefix
	Users []UserRef
	ASNs  []int

	users map[string]struct{} // by schemas.UserKey
	asns  map[int]struct{}
}

// UserRef names a user in a list: a user id of a tenant ("" for the
// default tenant). The same user id in another tenant is another user.
type UserRef struct {
	TenantID string
	UserID   string
}

// contains reports whether the attempt's user, address or ASN is listed.
// addr may be invalid (no CIDR then matches).
func (l *Lists) contains(f *schemas.Features, addr netip.Addr) bool {
	if len(l.users) > 0 {
		if _, ok := l.users[schemas.UserKey(f.TenantID, f.UserID)]; ok {
			return true
		}
	}
	if len(l.asns) > 0 && f.ASN != 0 {
		if _, ok := l.asns[f.ASN]; ok {
			return true
		}
	}
	if addr.IsValid() {
		for _, p := range l.CIDRs {
			if p.Contains(addr) {
				return true
			}
		}
	}
	return false
}

func (l *Lists) empty() bool {
	return len(l.CIDRs) == 0 && len(l.Users) == 0 && len(l.ASNs) == 0
}

// ErrNoRuleFiles is returned (wrapped) when a rules folder has no *.yaml or
// *.yml file.
var ErrNoRuleFiles = errors.New("no rule files")

// LoadError is one problem found while loading a rules folder. Load returns
// every problem of every file, joined with errors.Join; errors.As on the
// result finds the first, and the joined error's Unwrap() []error lists all.
type LoadError struct {
	File  string // the file as the caller named the folder, e.g. rules/default/auth.yaml
	Line  int    // 1-based; 0 when the problem is not tied to a line
	Rule  string // the rule id, if the problem is in a rule
	Field string // the YAML field, e.g. "when", "policy.lockout_at"
	Msg   string
}

// Error formats the problem as FILE:LINE: rule ID: FIELD: message.
func (e *LoadError) Error() string {
	s := e.File
	if e.Line > 0 {
		s = fmt.Sprintf("%s:%d", s, e.Line)
	}
	s += ": "
	if e.Rule != "" {
		s += "rule " + e.Rule + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Msg
}
