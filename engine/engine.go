package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// Enricher fills the enrichment part of the features (GeoIP, device).
// features.Enricher implements it.
type Enricher interface {
	Enrich(ev *schemas.LoginEvent, f *schemas.Features)
}

// State is the behavioural memory: Observe reads the features of an attempt
// and records it in one step; Peek only reads. features.Store implements it.
type State interface {
	Observe(ev *schemas.LoginEvent, f *schemas.Features)
	Peek(ev *schemas.LoginEvent, f *schemas.Features)
}

// RuleSource hands out the current compiled rule set; rules.Manager
// implements it, and a reload swaps the set between two events.
type RuleSource interface {
	Current() *rules.Set
}

// Config wires an Engine.
type Config struct {
	Rules    RuleSource
	Enricher Enricher // nil: no enrichment beyond the event itself
	State    State    // required
	Recorder Recorder
	DLQ      DeadLetterSink // nil: rejected messages are only logged
	// Clock gives decided_at. Nil means decided_at = occurred_at, which
	// makes replay output byte-identical run to run.
	Clock func() time.Time
	// RecentDecisions bounds the event_id dedupe and decision lookup.
	RecentDecisions int
	// MaxFutureSkew and MaxPastSkew bound how far an event's occurred_at
	// may be from Clock (ignored without a Clock). Zero disables the check.
	MaxFutureSkew time.Duration
	MaxPastSkew   time.Duration
	Logger        *slog.Logger
}

// Metrics counts the engine's work; fields are read with atomic loads.
type Metrics struct {
	EventsTotal     atomic.Int64
	DuplicatesTotal atomic.Int64
	RejectedTotal   atomic.Int64
	Allow           atomic.Int64
	Challenge       atomic.Int64
	Lockout         atomic.Int64
	LocksSet        atomic.Int64
	mu              sync.Mutex
	byRule          map[string]int64
}

// RuleHits returns how many decisions each active rule contributed to.
func (m *Metrics) RuleHits() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int64, len(m.byRule))
	for k, v := range m.byRule {
		out[k] = v
	}
	return out
}

func (m *Metrics) count(d *schemas.Decision) {
	switch d.Decision {
	case schemas.VerdictAllow:
		m.Allow.Add(1)
	case schemas.VerdictChallenge:
		m.Challenge.Add(1)
	case schemas.VerdictLockout:
		m.Lockout.Add(1)
	}
	if len(d.Reasons) == 0 {
		return
	}
	m.mu.Lock()
	if m.byRule == nil {
		m.byRule = make(map[string]int64)
	}
	for _, r := range d.Reasons {
		m.byRule[r.Rule]++
	}
	m.mu.Unlock()
}

// Engine scores login events. It is safe for concurrent use; each caller
// goroutine gets its own reusable scratch space from a pool.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	locks  *LockTable
	recent *recentDecisions // by event_id: dedupe and lookup
	// lastByUser and lastByIP remember the last decision per user and per
	// IP key for the status endpoints.
	lastByUser *recentDecisions
	lastByIP   *recentDecisions
	pending    chan schemas.ScoredEvent // Submit's queue for RunRecorder
	queued     atomic.Int64             // places reserved in pending
	scratch    sync.Pool
	metrics    Metrics
}

// scratch is one goroutine's reusable state for scoring.
type scratch struct {
	features schemas.Features
	result   rules.Result
}

// New checks the configuration and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Rules == nil || cfg.Rules.Current() == nil {
		return nil, errors.New("engine: a loaded rule set is required")
	}
	if cfg.State == nil {
		return nil, errors.New("engine: a state store is required")
	}
	if cfg.RecentDecisions == 0 {
		cfg.RecentDecisions = 100_000
	}
	if cfg.RecentDecisions < 0 {
		return nil, fmt.Errorf("engine: recent_decisions %d must be positive", cfg.RecentDecisions)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg:        cfg,
		log:        cfg.Logger,
		locks:      NewLockTable(),
		recent:     newRecentDecisions(cfg.RecentDecisions),
		lastByUser: newRecentDecisions(cfg.RecentDecisions),
		lastByIP:   newRecentDecisions(cfg.RecentDecisions),
		pending:    make(chan schemas.ScoredEvent, 10_000),
	}
	e.scratch.New = func() any { return new(scratch) }
	return e, nil
}

// Metrics returns the engine's counters.
func (e *Engine) Metrics() *Metrics { return &e.metrics }

// Locks returns the lock table.
func (e *Engine) Locks() *LockTable { return e.locks }

// RulesVersion returns the version of the rule set in use.
func (e *Engine) RulesVersion() string { return e.cfg.Rules.Current().Version() }

// Rules returns the rule set in use.
func (e *Engine) Rules() *rules.Set { return e.cfg.Rules.Current() }

// ErrClockSkew is wrapped by the error for an event whose occurred_at is
// outside the accepted window around the engine's clock.
var ErrClockSkew = errors.New("occurred_at outside the accepted clock skew")

// checkSkew applies the clock-skew policy (see docs/reliability.md).
func (e *Engine) checkSkew(ev *schemas.LoginEvent) error {
	if e.cfg.Clock == nil {
		return nil
	}
	now := e.cfg.Clock()
	if e.cfg.MaxFutureSkew > 0 && ev.OccurredAt.After(now.Add(e.cfg.MaxFutureSkew)) {
		return &schemas.FieldError{Field: "occurred_at", Reason: fmt.Sprintf("%s is more than %s ahead of the engine's clock", ev.OccurredAt.Format(time.RFC3339), e.cfg.MaxFutureSkew)}
	}
	if e.cfg.MaxPastSkew > 0 && ev.OccurredAt.Before(now.Add(-e.cfg.MaxPastSkew)) {
		return &schemas.FieldError{Field: "occurred_at", Reason: fmt.Sprintf("%s is more than %s behind the engine's clock", ev.OccurredAt.Format(time.RFC3339), e.cfg.MaxPastSkew)}
	}
	return nil
}

// Scored is the outcome of scoring one event.
type Scored struct {
	schemas.ScoredEvent
	Duplicate bool // the event_id was seen before: this is the earlier outcome
}

// Score decides one validated event and records its effect on the state
// and the lock table (but not on Kafka or history: see Process). A known
// event_id returns the earlier decision and changes nothing. With dryRun
// the state and locks are only read.
func (e *Engine) Score(ev *schemas.LoginEvent, dryRun bool) (Scored, error) {
	if err := e.checkSkew(ev); err != nil {
		return Scored{}, err
	}
	s := e.recent.shard(ev.EventID)
	if !dryRun {
		// Holding the shard lock across scoring makes a concurrent
		// duplicate (same event by HTTP and Kafka) wait and get the same
		// decision instead of counting twice.
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.Lock()
	}
	if prev, ok := s.m[ev.EventID]; ok {
		if dryRun {
			s.mu.Unlock()
		}
		e.metrics.DuplicatesTotal.Add(1)
		return Scored{ScoredEvent: prev, Duplicate: true}, nil
	}
	if dryRun {
		s.mu.Unlock()
	}

	sc := e.scratch.Get().(*scratch)
	defer e.scratch.Put(sc)
	f := &sc.features
	*f = schemas.Features{}
	if e.cfg.Enricher != nil {
		e.cfg.Enricher.Enrich(ev, f)
	} else {
		fillEventFeatures(ev, f)
	}
	if dryRun {
		e.cfg.State.Peek(ev, f)
	} else {
		e.cfg.State.Observe(ev, f)
	}
	set := e.cfg.Rules.Current()
	d := e.decide(set, ev, f, &sc.result, dryRun)
	out := schemas.ScoredEvent{Event: ev, Features: new(schemas.Features), Decision: d}
	*out.Features = *f
	if !dryRun {
		s.putLocked(ev.EventID, out)
		e.lastByUser.put(ev.UserID, out)
		e.lastByIP.put(ipKey(ev.Addr, f), out)
		e.metrics.EventsTotal.Add(1)
		e.metrics.count(d)
	}
	return Scored{ScoredEvent: out}, nil
}

// fillEventFeatures sets the features that come from the event alone, for
// engines without an Enricher.
func fillEventFeatures(ev *schemas.LoginEvent, f *schemas.Features) {
	f.UserID = ev.UserID
	f.IP = ev.IP
	f.IPv6 = ev.Addr.Is6()
	f.Success = ev.Success()
	f.Failure = !f.Success
	f.FailureReason = ev.FailureReason
	f.AuthMethod = ev.AuthMethod
	f.TenantID = ev.TenantID
	f.HourUTC = ev.OccurredAt.Hour()
	if f.IPv6 {
		p, _ := ev.Addr.Prefix(64)
		f.Network = p.String()
	} else {
		p, _ := ev.Addr.Prefix(24)
		f.Network = p.String()
	}
}

// ipKey is the key of IP-scoped locks: the address, or its /64 for IPv6
// (an attacker rotating inside one /64 is one source).
func ipKey(addr netip.Addr, f *schemas.Features) string {
	if addr.Is6() && f.Network != "" {
		return f.Network
	}
	return f.IP
}

// lockKeyFor builds the key of a lock of scope for the event.
func lockKeyFor(scope schemas.LockScope, ev *schemas.LoginEvent, f *schemas.Features) lockKey {
	switch scope {
	case schemas.ScopeUser:
		return lockKey{scope: scope, a: ev.UserID}
	case schemas.ScopeIP:
		return lockKey{scope: scope, a: ipKey(ev.Addr, f)}
	case schemas.ScopeDevice:
		return lockKey{scope: scope, a: f.DeviceKey}
	default:
		return lockKey{scope: schemas.ScopeUserIP, a: ev.UserID, b: ipKey(ev.Addr, f)}
	}
}

// lockScopesChecked is the order in which active locks are looked up.
var lockScopesChecked = [...]schemas.LockScope{schemas.ScopeUser, schemas.ScopeIP, schemas.ScopeUserIP, schemas.ScopeDevice}

// activeLock returns the active lock covering the event, if any.
func (e *Engine) activeLock(ev *schemas.LoginEvent, f *schemas.Features) (lockKey, *schemas.Lock, bool) {
	for _, scope := range lockScopesChecked {
		if scope == schemas.ScopeDevice && f.DeviceKey == "" {
			continue
		}
		k := lockKeyFor(scope, ev, f)
		if le, ok := e.locks.active(k, ev.OccurredAt); ok {
			return k, &schemas.Lock{Scope: scope, Key: k.String(), Until: le.until, Rule: le.rule}, true
		}
	}
	return lockKey{}, nil, false
}

// decide evaluates the rules and the policy for one event.
//
// An active lock covering the attempt refuses it (reason "locked", the
// lock's expiry) without the rules having to match again, and the attempt
// does not extend that lock. Rules still run: when they lock a different
// key (an IP-wide lock during a user_ip lock, say) that lock is set too.
// The allowlist is the one thing that wins over an active lock.
func (e *Engine) decide(set *rules.Set, ev *schemas.LoginEvent, f *schemas.Features, res *rules.Result, dryRun bool) *schemas.Decision {
	d := &schemas.Decision{
		EventID:      ev.EventID,
		UserID:       ev.UserID,
		IP:           ev.IP,
		OccurredAt:   ev.OccurredAt,
		DecidedAt:    ev.OccurredAt,
		RulesVersion: set.Version(),
	}
	if e.cfg.Clock != nil {
		d.DecidedAt = e.cfg.Clock().UTC()
	}
	set.Evaluate(f, ev.Addr, res)
	d.Score = res.Score
	d.Decision = res.Verdict
	d.Reasons = res.Reasons(f, make([]schemas.Reason, 0, len(res.Matched)+1))
	if len(res.Shadow) > 0 {
		d.Shadow = res.ShadowHits(make([]schemas.ShadowHit, 0, len(res.Shadow)))
	}
	var activeKey lockKey
	var active *schemas.Lock
	locked := false
	if res.DecidedBy != rules.ByAllowlist && res.DecidedBy != rules.ByRuleAllow {
		activeKey, active, locked = e.activeLock(ev, f)
	}
	if res.Verdict == schemas.VerdictLockout {
		k := lockKeyFor(res.Lock.Scope, ev, f)
		if !locked || k != activeKey {
			d.Lock = e.setLock(set, k, ev, res, dryRun)
		}
	}
	if locked {
		d.Decision = schemas.VerdictLockout
		if d.Lock == nil {
			d.Lock = active
		}
		d.Reasons = append(d.Reasons, schemas.Reason{Rule: schemas.ReasonLocked, Weight: 0,
			Detail: fmt.Sprintf("%s lock on %s until %s (set by %s)", active.Scope, active.Key, active.Until.Format(time.RFC3339), active.Rule)})
	}
	return d
}

// setLock locks k from the event's time for the policy's escalated
// duration (only computed, not stored, in a dry run).
func (e *Engine) setLock(set *rules.Set, k lockKey, ev *schemas.LoginEvent, res *rules.Result, dryRun bool) *schemas.Lock {
	policy := set.Policy()
	duration := func(prior int) time.Duration { return policy.LockDuration(res.Lock.Base, prior) }
	var until time.Time
	if dryRun {
		until = ev.OccurredAt.Add(duration(0))
	} else {
		until = e.locks.set(k, ev.OccurredAt, res.Lock.Rule, policy.OffenceResetAfter, duration)
		e.metrics.LocksSet.Add(1)
	}
	return &schemas.Lock{Scope: k.scope, Key: k.String(), Until: until, Rule: res.Lock.Rule}
}

// Prepare decodes and scores a batch of raw messages: valid events are
// decided (a redelivered event_id gets its earlier decision), invalid ones
// are set aside for the dead-letter sink.
func (e *Engine) Prepare(msgs []Message) *Batch {
	b := &Batch{Scored: make([]schemas.ScoredEvent, 0, len(msgs))}
	for i := range msgs {
		ev := new(schemas.LoginEvent)
		err := schemas.Decode(msgs[i].Value, ev)
		var out Scored
		if err == nil {
			out, err = e.Score(ev, false)
		}
		if err != nil {
			b.Rejected = append(b.Rejected, Rejected{Message: msgs[i], Err: err})
			continue
		}
		b.Scored = append(b.Scored, out.ScoredEvent)
	}
	if len(b.Rejected) > 0 {
		e.metrics.RejectedTotal.Add(int64(len(b.Rejected)))
	}
	return b
}

// Record dead-letters the rejected messages and records the scored events
// (decision published, history stored). It is safe to call again after an
// error: Kafka consumers tolerate a republished decision and history
// dedupes on event_id.
func (e *Engine) Record(ctx context.Context, b *Batch) error {
	if len(b.Rejected) > 0 {
		if e.cfg.DLQ == nil {
			e.log.Warn("rejected invalid events", "count", len(b.Rejected), "first_err", b.Rejected[0].Err)
		} else if err := e.cfg.DLQ.DeadLetter(ctx, b.Rejected); err != nil {
			return err
		}
		b.Rejected = nil // done: a retry does not dead-letter twice
	}
	return e.cfg.Recorder.Record(ctx, b.Scored)
}

// ParseLockKey parses the text form of a lock key ("user|ip" for user_ip).
func ParseLockKey(scope schemas.LockScope, key string) (lockKey, bool) {
	if !scope.Valid() || key == "" {
		return lockKey{}, false
	}
	if scope != schemas.ScopeUserIP {
		return lockKey{scope: scope, a: key}, true
	}
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '|' {
			return lockKey{scope: scope, a: key[:i], b: key[i+1:]}, i > 0 && i < len(key)-1
		}
	}
	return lockKey{}, false
}

// Decision returns the remembered decision for an event id.
func (e *Engine) Decision(eventID string) (*schemas.Decision, bool) {
	se, ok := e.recent.get(eventID)
	return se.Decision, ok
}
