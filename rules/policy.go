package rules

import (
	"fmt"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Policy turns matched rules and scores into verdicts and says how long
// locks last. One file of a rules folder may define it; otherwise
// DefaultPolicy applies.
type Policy struct {
	// ChallengeAt and LockoutAt are score thresholds:
	// 0 < ChallengeAt <= LockoutAt <= 100.
	ChallengeAt int
	LockoutAt   int
	// DefaultScope is the lock scope when neither a rule nor the deny list
	// says otherwise.
	DefaultScope schemas.LockScope
	// LockDurations is the escalation ladder, non-decreasing; its last rung
	// caps every lock (see LockDuration).
	LockDurations []time.Duration
	// OffenceResetAfter is the quiet period after which a key's offences
	// are forgotten and the ladder starts again.
	OffenceResetAfter time.Duration
	// TrustedContextMax is the most a user_untrusted (account-wide) lock
	// does to one of the user's trusted contexts, active or asked for by
	// the attempt's own rules: allow or challenge, never lockout.
	TrustedContextMax schemas.Verdict
	// Allow wins over everything; Deny locks out.
	Allow Lists
	Deny  Lists

	// File and Line locate the policy section; empty for the defaults.
	File string
	Line int
}

// DefaultPolicy returns the policy a folder without a policy section gets:
// challenge at 30, lockout at 70, user_ip locks of 10m → 30m → 2h → 24h,
// offences forgotten after 24h of quiet, trusted contexts challenged at
// most by an account-wide lock, no allow or deny entries.
func DefaultPolicy() *Policy {
	return &Policy{
		ChallengeAt:       30,
		LockoutAt:         70,
		DefaultScope:      schemas.ScopeUserIP,
		LockDurations:     []time.Duration{10 * time.Minute, 30 * time.Minute, 2 * time.Hour, 24 * time.Hour},
		OffenceResetAfter: 24 * time.Hour,
		TrustedContextMax: schemas.VerdictChallenge,
	}
}

// policyProblem is one validation failure: the field to point at and the
// message, which names every field involved.
type policyProblem struct {
	field string
	msg   string
}

// validate checks the thresholds, scope and ladder, naming both fields of a
// conflict. The lists were checked while parsing.
func (p *Policy) validate() []policyProblem {
	var problems []policyProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, policyProblem{field, fmt.Sprintf(format, args...)})
	}
	if p.ChallengeAt <= 0 || p.ChallengeAt > 100 {
		add("challenge_at", "challenge_at: %d is outside 1..100", p.ChallengeAt)
	}
	if p.LockoutAt <= 0 || p.LockoutAt > 100 {
		add("lockout_at", "lockout_at: %d is outside 1..100", p.LockoutAt)
	}
	if p.ChallengeAt > p.LockoutAt {
		add("challenge_at", "challenge_at (%d) is greater than lockout_at (%d); want 0 < challenge_at <= lockout_at <= 100", p.ChallengeAt, p.LockoutAt)
	}
	if !p.DefaultScope.Valid() {
		add("default_scope", "default_scope: %q is not one of %s", p.DefaultScope, schemas.LockScopeNames())
	}
	if len(p.LockDurations) == 0 {
		add("lock_durations", "lock_durations: needs at least one duration")
	}
	for i, d := range p.LockDurations {
		if i > 0 && d < p.LockDurations[i-1] {
			add("lock_durations", "lock_durations: %s after %s; the ladder must not go down", d, p.LockDurations[i-1])
		}
	}
	if p.OffenceResetAfter <= 0 {
		add("offence_reset_after", "offence_reset_after: must be positive")
	}
	if p.TrustedContextMax != schemas.VerdictAllow && p.TrustedContextMax != schemas.VerdictChallenge {
		add("trusted_context_max", "trusted_context_max: %q is not one of allow, challenge (a trusted context is never locked out by a user_untrusted lock)", p.TrustedContextMax)
	}
	return problems
}

// LockDuration returns how long a lock lasts given its base duration (the
// deciding rule's duration; 0 means the first rung) and the number of prior
// offences on the same key within OffenceResetAfter (see PriorOffences):
//
//   - no prior offence: the base itself;
//   - each prior offence climbs one rung above the base: the first prior
//     offence gives the first rung longer than the base, the second the
//     rung after that, and so on;
//   - the result never exceeds the last rung, which also caps a base that
//     is longer than it.
//
// With the default ladder [10m 30m 2h 24h]: base 0 or 10m gives 10m, 30m,
// 2h, 24h, 24h, ... for 0, 1, 2, 3, 4, ... prior offences; base 1h gives
// 1h, 2h, 24h, 24h, ...
func (p *Policy) LockDuration(base time.Duration, priorOffences int) time.Duration {
	ladder := p.LockDurations
	if len(ladder) == 0 {
		return base
	}
	last := p.LongestLock()
	if base <= 0 {
		base = ladder[0]
	}
	if priorOffences <= 0 {
		return min(base, last)
	}
	rung := len(ladder) // index of the first rung longer than base
	for i, d := range ladder {
		if d > base {
			rung = i
			break
		}
	}
	i := rung + priorOffences - 1
	if i >= len(ladder) {
		return last
	}
	return ladder[i]
}

// LongestLock returns the longest lock the policy can set: the last rung
// of the ladder, which caps every lock (see LockDuration). A lock that
// claims to last longer was not set by this policy.
func (p *Policy) LongestLock() time.Duration {
	if len(p.LockDurations) == 0 {
		return 0
	}
	return p.LockDurations[len(p.LockDurations)-1]
}

// PriorOffences returns the offences that still count for escalation: count
// if the last offence on the key happened less than OffenceResetAfter
// before now, 0 otherwise (or when there was none).
func (p *Policy) PriorOffences(count int, lastOffence, now time.Time) int {
	if count <= 0 || lastOffence.IsZero() || now.Sub(lastOffence) >= p.OffenceResetAfter {
		return 0
	}
	return count
}

// baseDuration is the base a lock request carries when its rule sets none.
func (p *Policy) baseDuration(d time.Duration) time.Duration {
	if d > 0 || len(p.LockDurations) == 0 {
		return d
	}
	return p.LockDurations[0]
}
