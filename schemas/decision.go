package schemas

import "time"

// Verdict is what the gateway should do with a login attempt.
type Verdict string

// The verdicts, from least to most severe.
const (
	VerdictAllow     Verdict = "allow"
	VerdictChallenge Verdict = "challenge"
	VerdictLockout   Verdict = "lockout"
)

// Severity orders verdicts: allow < challenge < lockout.
func (v Verdict) Severity() int {
	switch v {
	case VerdictChallenge:
		return 1
	case VerdictLockout:
		return 2
	default:
		return 0
	}
}

// LockScope names what a lock applies to.
type LockScope string

// The lock scopes. UserIP is the default: it stops an attacker's address
// without locking the owner out of their account from elsewhere.
// UserUntrusted is the owner-safe account-wide lock: keyed by the user, it
// refuses every context except the user's trusted ones (devices and
// networks of earlier allowed successes), which get at most the policy's
// trusted_context_max instead. Network locks every address of an IPv4 /24
// or IPv6 /64 (features.NetworkOf): a spray rotating inside one network.
const (
	ScopeUser          LockScope = "user"
	ScopeIP            LockScope = "ip"
	ScopeUserIP        LockScope = "user_ip"
	ScopeDevice        LockScope = "device"
	ScopeUserUntrusted LockScope = "user_untrusted"
	ScopeNetwork       LockScope = "network"
)

// LockScopes lists every lock scope, in the order documentation names them.
func LockScopes() []LockScope {
	return []LockScope{ScopeUser, ScopeUserUntrusted, ScopeIP, ScopeNetwork, ScopeUserIP, ScopeDevice}
}

// LockScopeNames is the scopes of LockScopes as a list for messages:
// "user, user_untrusted, ip, network, user_ip, device".
func LockScopeNames() string {
	names := ""
	for i, sc := range LockScopes() {
		if i > 0 {
			names += ", "
		}
		names += string(sc)
	}
	return names
}

// Valid reports whether s is one of the scopes of LockScopes.
func (s LockScope) Valid() bool {
	switch s {
	case ScopeUser, ScopeUserUntrusted, ScopeIP, ScopeNetwork, ScopeUserIP, ScopeDevice:
		return true
	}
	return false
}

// Field limits of a Lock, in bytes. A lock from outside the process (a
// decision read back from the topic, history at start-up) beyond them is
// refused.
const (
	// MaxIPKeyLen bounds the address part of a lock key: an address, or
	// an IPv6 /64, in text form.
	MaxIPKeyLen = 64
	// MaxLockKeyLen bounds a lock key; the longest is a user_ip key, a
	// user_id, "|" and an address key.
	MaxLockKeyLen = MaxUserIDLen + 1 + MaxIPKeyLen
	// MaxRuleLen bounds a rule id, and so the rule of a lock or a reason.
	MaxRuleLen = 128
)

// HasUser reports whether a lock of scope s names a user (user,
// user_untrusted, user_ip), and so a tenant: such a lock refuses that
// tenant's user only.
func (s LockScope) HasUser() bool {
	switch s {
	case ScopeUser, ScopeUserUntrusted, ScopeUserIP:
		return true
	}
	return false
}

// KeyedByUser reports whether the scope's key is the user id alone (user
// and user_untrusted locks).
func (s LockScope) KeyedByUser() bool { return s == ScopeUser || s == ScopeUserUntrusted }

// Lock is an active lock on a scope and key, set by a decision.
type Lock struct {
	Scope LockScope `json:"scope"`
	// Key names what is locked: the user_id (user), the address key
	// (ip), "user_id|address key" (user_ip) or the device key (device).
	// It never carries the tenant: a user lock of a user in a tenant other
	// than the default one has the tenant in TenantID.
	Key string `json:"key"`
	// TenantID is the tenant of the locked user, for a scope that names a
	// user (HasUser), when it is not the default tenant (""); otherwise
	// empty.
	TenantID string    `json:"tenant_id,omitempty"`
	Until    time.Time `json:"until"`
	// Rule is the rule (or "policy.deny" / "score") that set the lock.
	Rule string `json:"rule,omitempty"`
}

// Reason is one active rule that matched, with its weight and a detail
// quoting the feature values that made it match.
type Reason struct {
	Rule   string `json:"rule"`
	Weight int    `json:"weight"`
	Detail string `json:"detail,omitempty"`
}

// ShadowHit is a shadow-mode rule that matched; it never changes the
// outcome.
type ShadowHit struct {
	Rule   string `json:"rule"`
	Weight int    `json:"weight"`
}

// Decision is the engine's answer for one LoginEvent, published to
// login-decisions keyed by user_id and returned by POST /v1/score.
type Decision struct {
	EventID      string      `json:"event_id"`
	UserID       string      `json:"user_id"`
	IP           string      `json:"ip"`
	OccurredAt   time.Time   `json:"occurred_at"`
	DecidedAt    time.Time   `json:"decided_at"`
	Score        int         `json:"score"`
	Decision     Verdict     `json:"decision"`
	Lock         *Lock       `json:"lock,omitempty"`
	Reasons      []Reason    `json:"reasons"`
	Shadow       []ShadowHit `json:"shadow,omitempty"`
	RulesVersion string      `json:"rules_version"`
	// Feedback is set only on the record that announces an analyst's
	// label (POST /v1/decisions/{event_id}/feedback); see docs/security.md.
	Feedback *FeedbackContext `json:"feedback,omitempty"`
}

// ReasonLocked is the reason rule of a decision made because a lock was
// already active.
const ReasonLocked = "locked"

// ReasonSharedAddress is the reason rule (weight 0) of a decision whose
// ip lock was not set because the address is shared (ip_shared): the
// decision is a challenge or a user_ip lock instead, and the detail says
// why the address counts as shared.
const ReasonSharedAddress = "shared_address"

// ReasonTrustedContext is the reason rule of a decision for a trusted
// context that met an account-wide user_untrusted lock (active, or asked
// for by this attempt's rules): its detail names the lock and why the
// context is trusted, and the verdict is at most the policy's
// trusted_context_max.
const ReasonTrustedContext = "trusted_context"

// TrustedContext is one of a user's trusted contexts: a client device_id or
// a network (IPv4 /24, IPv6 /64) from which the user had an allowed
// success, first and last at the times given. A context stays trusted
// until it has not been seen for the trust retention.
type TrustedContext struct {
	// Kind is "device" or "network".
	Kind string `json:"kind"`
	// Key is the device_id, or the network in CIDR notation.
	Key       string    `json:"key"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// The kinds of trusted context.
const (
	TrustedDevice  = "device"
	TrustedNetwork = "network"
)

// ScoredEvent is what the history keeps of one event: the event, the
// features the rules saw, the decision and where the event was read.
type ScoredEvent struct {
	Event    *LoginEvent
	Features *Features
	Decision *Decision
	Position StreamPosition
}

// StreamPosition is where an event was read from the events topic: its
// partition and offset. A partition's new owner catches up from history
// by position (docs/scaling.md, "State follows its partition"). The zero
// value, Kafka false, is an event that did not come from Kafka (the HTTP
// API, replay, an administrator's action) or a history row stored before
// positions were.
type StreamPosition struct {
	Kafka     bool
	Partition int32
	Offset    int64
}
