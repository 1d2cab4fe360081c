package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// CounterReader reads current window counters without an attempt;
// features.Store implements it.
type CounterReader interface {
	UserCounters(userID string, at time.Time) map[string]float64
	IPCounters(addr netip.Addr, at time.Time) map[string]float64
}

// Status is what the engine knows of a user or an address right now: the
// locks active on it, its window counters and the last decision about it.
type Status struct {
	Locks        []schemas.Lock     `json:"locks"`
	Counters     map[string]float64 `json:"counters"`
	LastDecision *schemas.Decision  `json:"last_decision,omitempty"`
}

// UserStatus reports the locks that would refuse userID (user-wide and
// user_ip locks), its counters and its last decision, at time at. It has
// no side effects.
func (e *Engine) UserStatus(userID string, at time.Time) Status {
	st := Status{Counters: map[string]float64{}}
	st.Locks = e.locks.activeForUser(userID, at)
	if cr, ok := e.cfg.State.(CounterReader); ok {
		st.Counters = cr.UserCounters(userID, at)
	}
	if d, ok := e.lastByUser.get(userID); ok {
		st.LastDecision = d
	}
	return st
}

// IPStatus reports the locks on an address (ip and user_ip locks; IPv6 by
// its /64), its counters and the last decision from it.
func (e *Engine) IPStatus(addr netip.Addr, at time.Time) Status {
	st := Status{Counters: map[string]float64{}}
	addr = addr.Unmap()
	key := addrKey(addr)
	st.Locks = e.locks.activeForIP(key, at)
	if cr, ok := e.cfg.State.(CounterReader); ok {
		st.Counters = cr.IPCounters(addr, at)
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
// it too) and kept in history. It returns that record.
func (e *Engine) Lift(ctx context.Context, scope schemas.LockScope, key, actor string, at time.Time) (*schemas.Decision, error) {
	k, ok := ParseLockKey(scope, key)
	if !ok {
		return nil, ErrBadLockKey
	}
	if _, ok := e.locks.active(k, at); !ok {
		return nil, ErrNoSuchLock
	}
	user := ""
	if scope == schemas.ScopeUser || scope == schemas.ScopeUserIP {
		user = k.a
	}
	ip := ""
	if scope == schemas.ScopeIP {
		ip = k.a
	} else if scope == schemas.ScopeUserIP {
		ip = k.b
	}
	d := &schemas.Decision{
		EventID:      fmt.Sprintf("admin-lift-%s-%d", strings.ReplaceAll(k.String(), "|", "-"), at.UnixNano()),
		UserID:       user,
		IP:           ip,
		OccurredAt:   at,
		DecidedAt:    at,
		Decision:     schemas.VerdictAllow,
		Lock:         &schemas.Lock{Scope: scope, Key: k.String(), Until: at, Rule: AdminLiftRule},
		Reasons:      []schemas.Reason{{Rule: AdminLiftRule, Weight: 0, Detail: "lock lifted by " + actor}},
		RulesVersion: e.RulesVersion(),
	}
	ev := &schemas.LoginEvent{EventID: d.EventID, OccurredAt: at, UserID: user, IP: ip, Outcome: schemas.OutcomeSuccess,
		Attributes: map[string]string{"admin_action": "lift_lock", "actor": actor, "lock_scope": string(scope), "lock_key": k.String()}}
	// Recorded first, lifted after: a lift that cannot be recorded changes
	// nothing anywhere, so every instance keeps agreeing on the lock and
	// the administrator can simply retry.
	if err := e.cfg.Recorder.Record(ctx, []schemas.ScoredEvent{{Event: ev, Features: &schemas.Features{UserID: user, IP: ip}, Decision: d}}); err != nil {
		return nil, fmt.Errorf("recording the lift: %w", err)
	}
	e.locks.lift(k, at)
	return d, nil
}

// ApplyDecision updates the lock table from a decision published by any
// instance (the replicated lock table): a lock it sets is installed, an
// admin_lift record lifts one. Decisions this instance made are applied
// again harmlessly.
func (e *Engine) ApplyDecision(d *schemas.Decision) {
	if d == nil || d.Lock == nil {
		return
	}
	k, ok := ParseLockKey(d.Lock.Scope, d.Lock.Key)
	if !ok {
		return
	}
	if d.Lock.Rule == AdminLiftRule {
		e.locks.lift(k, d.Lock.Until)
		return
	}
	if d.Lock.Rule == "" || !d.Lock.Until.After(d.OccurredAt) {
		return
	}
	e.locks.restore(k, d.OccurredAt, d.Lock.Until, d.Lock.Rule)
}
