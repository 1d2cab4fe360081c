package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/schemas"
)

// Status is what the engine knows of a user or an address right now: the
// locks active on it, its window counters and the last decision about it;
// for a user, also its trusted contexts (the devices and networks a
// user_untrusted lock spares, and since when).
type Status struct {
	Locks        []schemas.Lock           `json:"locks"`
	Counters     schemas.Counters         `json:"counters"`
	LastDecision *schemas.Decision        `json:"last_decision,omitempty"`
	Trusted      []schemas.TrustedContext `json:"trusted,omitempty"`
}

// UserStatus reports the locks on the user (tenantID, userID) (user,
// user_untrusted and user_ip locks), its counters, its trusted contexts and
// its last decision, at time at; "" is the default tenant. It has no side
// effects.
func (e *Engine) UserStatus(tenantID, userID string, at time.Time) Status {
	var st Status
	user := schemas.UserKey(tenantID, userID)
	st.Locks = e.locks.activeForUser(user, at)
	if e.cfg.Counters != nil {
		st.Counters = e.cfg.Counters.UserCounters(tenantID, userID, at)
	} else {
		st.Counters = schemas.Counters{}
	}
	if e.cfg.Trust != nil {
		st.Trusted = e.cfg.Trust.TrustedContexts(tenantID, userID, at)
	}
	if d, ok := e.lastByUser.get(user); ok {
		st.LastDecision = d
	}
	return st
}

// IPStatus reports the locks on an address (ip and user_ip locks; IPv6 by
// its /64; the network lock on its /24 or /64, which refuses the address
// unless it is shared), its counters and the last decision from it.
func (e *Engine) IPStatus(addr netip.Addr, at time.Time) Status {
	var st Status
	addr = addr.Unmap()
	key := addrKey(addr)
	st.Locks = e.locks.activeForIP(key, features.PrefixString(features.NetworkOf(addr)), at)
	if e.cfg.Counters != nil {
		st.Counters = e.cfg.Counters.IPCounters(addr, at)
	} else {
		st.Counters = schemas.Counters{}
	}
	if d, ok := e.lastByIP.get(key); ok {
		st.LastDecision = d
	}
	return st
}

// AdminLiftRule is the reason rule of the decision record that announces a
// lock lifted by an administrator on the decisions topic.
const AdminLiftRule = "admin_lift"

// ErrNoSuchLock is returned when lifting a lock that is not active.
var ErrNoSuchLock = errors.New("no active lock with that scope and key")

// ErrBadLockKey is returned for a scope or key that cannot name a lock.
var ErrBadLockKey = errors.New("invalid lock scope or key")

// Lift removes an active lock at time at on behalf of actor, once it is
// recorded like a decision: a Decision whose reason is admin_lift and whose lock
// ends at at, published to the decisions topic (so every instance lifts
// it too) and kept in history. tenant is the locked user's tenant for a
// scope that names a user ("" for the default tenant), as
// schemas.Lock.TenantID. It returns that record.
func (e *Engine) Lift(ctx context.Context, scope schemas.LockScope, tenant, key, actor string, at time.Time) (*schemas.Decision, error) {
	k, ok := ParseLockKey(scope, tenant, key)
	if !ok {
		return nil, ErrBadLockKey
	}
	reach := e.liftReach()
	if le, ok := e.locks.active(k, at); !ok || !liftable(le.setAt, at, reach) {
		return nil, ErrNoSuchLock
	}
	user := ""
	if scope.HasUser() {
		_, user = schemas.SplitUserKey(k.a)
	}
	ip := ""
	if scope == schemas.ScopeIP || scope == schemas.ScopeNetwork {
		ip = k.a
	} else if scope == schemas.ScopeUserIP {
		ip = k.b
	}
	lock := k.lock(at, AdminLiftRule)
	name := k.String()
	if tenant != "" {
		name = tenant + "-" + name
	}
	d := &schemas.Decision{
		EventID:      fmt.Sprintf("admin-lift-%s-%d", strings.ReplaceAll(name, "|", "-"), at.UnixNano()),
		UserID:       user,
		IP:           ip,
		OccurredAt:   at,
		DecidedAt:    at,
		Decision:     schemas.VerdictAllow,
		Lock:         &lock,
		Reasons:      []schemas.Reason{{Rule: AdminLiftRule, Weight: 0, Detail: "lock lifted by " + actor}},
		RulesVersion: e.RulesVersion(),
	}
	ev := &schemas.LoginEvent{EventID: d.EventID, OccurredAt: at, UserID: user, IP: ip, TenantID: lock.TenantID, Outcome: schemas.OutcomeSuccess,
		Attributes: map[string]string{"admin_action": "lift_lock", "actor": actor, "lock_scope": string(scope), "lock_key": k.String()}}
	// Recorded first, lifted after: a lift that cannot be recorded changes
	// nothing anywhere, so every instance keeps agreeing on the lock and
	// the administrator can simply retry.
	if err := e.cfg.Recorder.Record(ctx, []schemas.ScoredEvent{{Event: ev, Features: &schemas.Features{UserID: user, IP: ip, TenantID: lock.TenantID}, Decision: d}}); err != nil {
		return nil, fmt.Errorf("recording the lift: %w", err)
	}
	e.locks.lift(k, at, reach)
	return d, nil
}

// Errors of a lock from outside this process that the engine refuses
// (see admitLock).
var (
	// ErrBadLockRule: the lock's rule is longer than schemas.MaxRuleLen.
	ErrBadLockRule = errors.New("invalid lock rule")
	// ErrLockTooLong: the lock lasts longer than the policy's longest
	// lock (rules.Policy.LongestLock), which caps every lock it sets.
	ErrLockTooLong = errors.New("lock lasts longer than the policy's longest lock")
	// ErrLockAhead: the lock was set further ahead of the engine's clock
	// than Config.MaxFutureSkew, which no event can be.
	ErrLockAhead = errors.New("lock set ahead of the engine's clock")
)

// lockSpanSlack is what a lock may last beyond the policy's longest lock
// and still be admitted: history keeps until in whole seconds, rounded up.
const lockSpanSlack = time.Second

// admitLock checks a lock that comes from outside this process — another
// instance's decision, a row of history at start-up — and set at setAt,
// before it may enter the lock table. Independently of how the lock was
// authenticated it must be one this engine could have set: a scope, key
// and rule within the field limits, set no further ahead of the clock
// than MaxFutureSkew (when the engine has a clock), and ending at most
// the policy's longest lock after setAt. With these bounds every key a
// stream of decisions adds leaves the table at the sweep after its lock
// and its offence record expire (see TestForgedLocksLeaveTheTable).
func (e *Engine) admitLock(l *schemas.Lock, setAt time.Time) (lockKey, error) {
	k, ok := ParseLockKey(l.Scope, l.TenantID, l.Key)
	if !ok {
		return lockKey{}, fmt.Errorf("%w: lock.scope %.16q with a lock.key of %d bytes and a lock.tenant_id of %d", ErrBadLockKey, l.Scope, len(l.Key), len(l.TenantID))
	}
	if len(l.Rule) > schemas.MaxRuleLen {
		return lockKey{}, fmt.Errorf("%w: lock.rule is %d bytes, more than the %d allowed", ErrBadLockRule, len(l.Rule), schemas.MaxRuleLen)
	}
	if e.cfg.Clock != nil && e.cfg.MaxFutureSkew > 0 {
		if limit := e.cfg.Clock().Add(e.cfg.MaxFutureSkew); setAt.After(limit) {
			return lockKey{}, fmt.Errorf("%w: set at %s, more than %s ahead", ErrLockAhead, setAt.UTC().Format(time.RFC3339), e.cfg.MaxFutureSkew)
		}
	}
	longest := e.cfg.Rules.Current().Policy().LongestLock()
	if span := l.Until.Sub(setAt); span > longest+lockSpanSlack {
		return lockKey{}, fmt.Errorf("%w: lock.until %s is %s after it was set, the policy's longest lock is %s",
			ErrLockTooLong, l.Until.UTC().Format(time.RFC3339), span.Round(time.Second), longest)
	}
	return k, nil
}

// liftReach is how far ahead of a lift's time a lock it lifts may have
// been set: the future skew events are held to, or no bound when they are
// held to none (no clock, or MaxFutureSkew 0).
func (e *Engine) liftReach() time.Duration {
	if e.cfg.Clock == nil || e.cfg.MaxFutureSkew <= 0 {
		return -1
	}
	return e.cfg.MaxFutureSkew
}

// ApplyDecision updates the lock table from a decision published by any
// instance (the replicated lock table): a lock it sets is installed, an
// admin_lift record lifts one, a feedback record (Decision.Feedback) is
// applied as Feedback applies it. Decisions this instance made are
// applied again harmlessly. A lock admitLock refuses changes nothing and is
// returned as an error (ErrBadLockKey, ErrBadLockRule, ErrLockTooLong,
// ErrLockAhead); the caller counts and reports it.
func (e *Engine) ApplyDecision(d *schemas.Decision) error {
	if d != nil && d.Feedback != nil {
		return e.applyFeedback(d)
	}
	if d == nil || d.Lock == nil {
		return nil
	}
	k, err := e.admitLock(d.Lock, d.OccurredAt)
	if err != nil {
		return err
	}
	if d.Lock.Rule == AdminLiftRule {
		e.locks.lift(k, d.Lock.Until, e.liftReach())
		return nil
	}
	if d.Lock.Rule == "" || !d.Lock.Until.After(d.OccurredAt) {
		return nil
	}
	e.followLock(k, d)
	return nil
}

// followLock installs the lock d set or reported, set elsewhere (another
// instance's decision, or one read back from history when a partition
// moves here): a lock d set is an offence of its key, one it reported
// active is not.
func (e *Engine) followLock(k lockKey, d *schemas.Decision) {
	e.locks.restore(k, d.OccurredAt, d.Lock.Until, d.Lock.Rule, !reportsActiveLock(d), e.cfg.Rules.Current().Policy().OffenceResetAfter)
}
