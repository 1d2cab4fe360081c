package rules

import (
	"net/netip"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/loginrisk/loginrisk/schemas"
)

// DecidedBy names the step of the decision order that settled a verdict.
type DecidedBy string

// The decision steps, in the order Evaluate applies them.
const (
	ByAllowlist      DecidedBy = "allowlist"       // policy.allow: user, CIDR or ASN
	ByRuleAllow      DecidedBy = "rule_allow"      // an active rule with action allow
	ByDenylist       DecidedBy = "denylist"        // policy.deny
	ByRuleLockout    DecidedBy = "rule_lockout"    // an active rule with action lockout
	ByRuleChallenge  DecidedBy = "rule_challenge"  // an active rule with action challenge
	ByScoreLockout   DecidedBy = "score_lockout"   // score >= lockout_at
	ByScoreChallenge DecidedBy = "score_challenge" // score >= challenge_at
	ByScore          DecidedBy = "score"           // below challenge_at: allow
	// BySharedAddress: an ip (network) lock asked for on a shared address
	// (network), for a user who has succeeded from its network before,
	// became a challenge.
	BySharedAddress DecidedBy = "shared_address"
)

// Rule ids a LockRequest carries when no rule set the lock.
const (
	// LockRuleDeny marks a lock set because the attempt is on the deny list.
	LockRuleDeny = "policy.deny"
	// LockRuleScore marks a lock set because the score reached lockout_at.
	LockRuleScore = "score"
)

// LockRequest is the lock a lockout verdict asks the engine to set. The
// engine owns lock state: it picks the key for Scope, counts prior
// offences and calls Policy.LockDuration(Base, prior).
type LockRequest struct {
	Scope schemas.LockScope
	// Base is the duration before escalation: the deciding rule's duration,
	// or the first rung of the policy's ladder.
	Base time.Duration
	// Rule is the deciding rule's id, LockRuleDeny or LockRuleScore.
	Rule string
}

// Result is the outcome of evaluating one attempt. The caller owns it and
// reuses it across calls (one per worker goroutine): Evaluate resets it and
// appends into its slices, so after a warm-up nothing is allocated. It is
// not safe for concurrent use, and the slices are overwritten by the next
// Evaluate.
type Result struct {
	// Score is the sum of the weights of the matched active rules, clamped
	// to 0..100; RawScore is the sum before clamping.
	Score    int
	RawScore int
	Verdict  schemas.Verdict
	// DecidedBy is the step of the decision order that settled Verdict;
	// Rule is the rule behind it for the rule_* steps, else nil.
	DecidedBy DecidedBy
	Rule      *Rule
	// Matched are the matched active rules, Shadow the matched shadow
	// rules, each in set order (files by name, rules in file order).
	Matched []*Rule
	Shadow  []*Rule
	// Lock is set when Verdict is lockout.
	Lock LockRequest
	// SparedCrowd is set when an ip lock was asked for on a shared address,
	// or a network lock on a shared network, and became a challenge or a
	// user_ip lock (see Evaluate); SparedScope is the scope asked for.
	SparedCrowd bool
	SparedScope schemas.LockScope
	// Errors counts rules whose evaluation failed at run time (they count
	// as not matched); Err is the first such error. Only rules interpreted
	// by expr's VM can fail (see README.md).
	Errors int
	Err    error

	vm vm.VM // reused by rules that run on expr's VM
	// details and detailEnds are Reasons' reused rendering buffer and the
	// end offset of each rendered detail in it.
	details    []byte
	detailEnds []int
}

// Reset clears r for reuse, keeping the capacity of its slices.
func (r *Result) Reset() {
	clear(r.Matched)
	clear(r.Shadow)
	r.Matched, r.Shadow = r.Matched[:0], r.Shadow[:0]
	r.Score, r.RawScore = 0, 0
	r.Verdict, r.DecidedBy, r.Rule = "", "", nil
	r.Lock = LockRequest{}
	r.SparedCrowd, r.SparedScope = false, ""
	r.Errors, r.Err = 0, nil
}

// Reasons appends the matched active rules to dst as schemas.Reason, with
// their details rendered from f. The rendered details share one string
// (one allocation per call, none when every detail is static text).
func (r *Result) Reasons(f *schemas.Features, dst []schemas.Reason) []schemas.Reason {
	first := len(dst)
	buf := r.details[:0]
	r.detailEnds = r.detailEnds[:0]
	for _, rule := range r.Matched {
		detail, static := rule.detail.static()
		if !static {
			buf = rule.detail.appendTo(buf, f)
			r.detailEnds = append(r.detailEnds, len(buf))
		}
		dst = append(dst, schemas.Reason{Rule: rule.ID, Weight: rule.Weight, Detail: detail})
	}
	r.details = buf
	if len(r.detailEnds) == 0 {
		return dst
	}
	all, start, next := string(buf), 0, 0
	for i, rule := range r.Matched {
		if _, static := rule.detail.static(); !static {
			end := r.detailEnds[next]
			dst[first+i].Detail = all[start:end]
			start, next = end, next+1
		}
	}
	return dst
}

// ShadowHits appends the matched shadow rules to dst.
func (r *Result) ShadowHits(dst []schemas.ShadowHit) []schemas.ShadowHit {
	for _, rule := range r.Shadow {
		dst = append(dst, schemas.ShadowHit{Rule: rule.ID, Weight: rule.Weight})
	}
	return dst
}

// Evaluate scores one attempt: it runs every rule on f, adds up the weights
// of the matched active rules and applies the decision order, first match
// wins:
//
//  1. allow list (policy.allow users, CIDRs, ASNs) → allow;
//  2. an active rule with action allow → allow;
//  3. deny list (policy.deny) → lockout, default scope, rule "policy.deny";
//  4. active rules with action lockout → lockout with the rule's scope (or
//     the default) and duration; if several match, the one with the longest
//     base duration, then the highest weight, then the first in set order;
//  5. an active rule with action challenge → challenge (the first);
//  6. score >= lockout_at → lockout, rule "score", with the scope and
//     duration of the highest-weight matched rule if it sets them (the
//     first on ties), else the default scope and first rung;
//  7. score >= challenge_at → challenge;
//  8. otherwise allow.
//
// A lock of scope ip that a rule or the score asks for on a shared
// address (f.IPShared: an office or carrier NAT, a campus) never falls on
// the crowd behind it: a user who has succeeded from the address's network
// before is challenged (decided by "shared_address"), anyone else gets a
// user_ip lock, which stops that account from that address. Only the deny
// list locks a shared address.
//
// Rules are evaluated in every case, so an allow-listed attempt still
// reports its score and reasons. Shadow rules are reported in r.Shadow and
// never change the score or the verdict. addr is the client address used
// for the CIDR lists; when it is invalid, f.IP is parsed instead.
//
// Evaluate is safe for concurrent use with different Results, and
// allocates nothing once r's slices have grown to the number of matches.
func (s *Set) Evaluate(f *schemas.Features, addr netip.Addr, r *Result) {
	r.Reset()
	var allowRule, lockRule, challengeRule, top *Rule
	for _, rule := range s.rules {
		if !rule.match(f, r) {
			continue
		}
		if rule.Mode == ModeShadow {
			r.Shadow = append(r.Shadow, rule)
			continue
		}
		r.Matched = append(r.Matched, rule)
		r.RawScore += rule.Weight
		if top == nil || rule.Weight > top.Weight {
			top = rule
		}
		switch rule.Action {
		case ActionAllow:
			if allowRule == nil {
				allowRule = rule
			}
		case ActionLockout:
			if lockRule == nil || s.severer(rule, lockRule) {
				lockRule = rule
			}
		case ActionChallenge:
			if challengeRule == nil {
				challengeRule = rule
			}
		}
	}
	r.Score = min(max(r.RawScore, 0), 100)

	p := s.policy
	if !addr.IsValid() && (len(p.Allow.CIDRs) > 0 || len(p.Deny.CIDRs) > 0) {
		addr, _ = netip.ParseAddr(f.IP)
	}
	addr = addr.Unmap()
	switch {
	case p.Allow.contains(f, addr):
		r.Verdict, r.DecidedBy = schemas.VerdictAllow, ByAllowlist
	case allowRule != nil:
		r.Verdict, r.DecidedBy, r.Rule = schemas.VerdictAllow, ByRuleAllow, allowRule
	case p.Deny.contains(f, addr):
		r.Verdict, r.DecidedBy = schemas.VerdictLockout, ByDenylist
		r.Lock = LockRequest{Scope: p.DefaultScope, Base: p.baseDuration(0), Rule: LockRuleDeny}
	case lockRule != nil:
		r.Verdict, r.DecidedBy, r.Rule = schemas.VerdictLockout, ByRuleLockout, lockRule
		r.Lock = LockRequest{Scope: s.scope(lockRule), Base: p.baseDuration(lockRule.Duration), Rule: lockRule.ID}
	case challengeRule != nil:
		r.Verdict, r.DecidedBy, r.Rule = schemas.VerdictChallenge, ByRuleChallenge, challengeRule
	case r.Score >= p.LockoutAt:
		r.Verdict, r.DecidedBy = schemas.VerdictLockout, ByScoreLockout
		r.Lock = LockRequest{Scope: s.scope(top), Base: p.baseDuration(top.Duration), Rule: LockRuleScore}
	case r.Score >= p.ChallengeAt:
		r.Verdict, r.DecidedBy = schemas.VerdictChallenge, ByScoreChallenge
	default:
		r.Verdict, r.DecidedBy = schemas.VerdictAllow, ByScore
	}
	if r.Verdict == schemas.VerdictLockout && r.DecidedBy != ByDenylist && onCrowd(r.Lock.Scope, f) {
		spareCrowd(f, r)
	}
}

// onCrowd reports whether a lock of scope would fall on a crowd: an ip
// lock on a shared address (ip_shared), a network lock on a shared network
// (net_shared) or on one holding the shared address of the attempt.
func onCrowd(scope schemas.LockScope, f *schemas.Features) bool {
	switch scope {
	case schemas.ScopeIP:
		return f.IPShared
	case schemas.ScopeNetwork:
		return f.NetShared || f.IPShared
	}
	return false
}

// spareCrowd turns an ip or network lock on a shared address or network
// into what falls on the attempt's account alone: a challenge for a user
// who has succeeded from the address's network before (a colleague's typo
// during an attack from the same NAT), else a user_ip lock.
func spareCrowd(f *schemas.Features, r *Result) {
	r.SparedCrowd, r.SparedScope = true, r.Lock.Scope
	if f.UserKnown && !f.NewNetwork {
		r.Verdict, r.DecidedBy, r.Lock = schemas.VerdictChallenge, BySharedAddress, LockRequest{}
		return
	}
	r.Lock.Scope = schemas.ScopeUserIP
}

// match runs the rule's `when`: the lowered closures when there are, else
// expr's VM (a failure there counts as no match and is recorded in res).
func (r *Rule) match(f *schemas.Features, res *Result) bool {
	if r.fast != nil {
		return r.fast(f)
	}
	out, err := res.vm.Run(r.program, f)
	if err != nil {
		res.Errors++
		if res.Err == nil {
			res.Err = &EvalError{Rule: r.ID, Err: err}
		}
		return false
	}
	b, _ := out.(bool)
	return b
}

// EvalError is a rule that failed at run time.
type EvalError struct {
	Rule string
	Err  error
}

// Error names the rule and the expr error.
func (e *EvalError) Error() string { return "rule " + e.Rule + ": " + e.Err.Error() }

// Unwrap returns the expr error.
func (e *EvalError) Unwrap() error { return e.Err }

// scope is the lock scope a rule asks for, or the policy's default.
func (s *Set) scope(rule *Rule) schemas.LockScope {
	if rule != nil && rule.Scope != "" {
		return rule.Scope
	}
	return s.policy.DefaultScope
}

// severer orders lockout rules: longer base duration, then higher weight;
// on a full tie the earlier rule stays.
func (s *Set) severer(a, b *Rule) bool {
	da, db := s.policy.baseDuration(a.Duration), s.policy.baseDuration(b.Duration)
	if da != db {
		return da > db
	}
	return a.Weight > b.Weight
}
