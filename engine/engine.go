package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// Config wires an Engine.
type Config struct {
	Rules    RuleSource
	Enricher Enricher // nil: no enrichment beyond the event itself
	State    State    // required
	// Counters answers the status lookups' window counters, Trust lists a
	// user's trusted contexts, Profiles takes the profiles of the warm-up
	// and Hostile marks the networks of confirmed attacks; nil: the
	// State's, when it implements CounterReader, TrustReader,
	// ProfileLoader or HostileMarker (state.Store does all four), else
	// none.
	Counters CounterReader
	Trust    TrustReader
	Profiles ProfileLoader
	Hostile  HostileMarker
	Recorder Recorder
	DLQ      DeadLetterSink // nil: rejected messages are only logged
	// Feedback stores analysts' labels (Engine.Feedback); nil: labels are
	// refused with ErrNoFeedbackStore.
	Feedback FeedbackWriter
	// Addresses shares the address side of each attempt scored with the
	// other instances, and AddressState gives it (nil: the State's, when
	// it implements AddressState); nil Addresses: nothing is shared.
	Addresses    AddressPublisher
	AddressState AddressState
	// Clock gives decided_at. Nil means decided_at = occurred_at, which
	// makes replay output byte-identical run to run.
	Clock func() time.Time
	// RecentDecisions bounds the event_id dedupe and decision lookup.
	RecentDecisions int
	// FeedSize is how many recent decisions the console's Feed keeps with
	// their features; 0 keeps no feed (and costs nothing per event).
	FeedSize int
	// MaxFutureSkew and MaxPastSkew bound how far an event's occurred_at
	// may be from Clock (ignored without a Clock). Zero disables the check.
	MaxFutureSkew time.Duration
	MaxPastSkew   time.Duration
	// AttackMode holds the thresholds of attack mode (attackmode.go);
	// zero fields take the defaults.
	AttackMode AttackModeConfig
	Logger     *slog.Logger
}

// Metrics counts the engine's work; fields are read with atomic loads.
type Metrics struct {
	EventsTotal     atomic.Int64
	DuplicatesTotal atomic.Int64
	// ConflictsTotal counts events refused because their event_id was
	// remembered for a different attempt (ConflictError).
	ConflictsTotal atomic.Int64
	RejectedTotal  atomic.Int64
	Allow          atomic.Int64
	Challenge      atomic.Int64
	Lockout        atomic.Int64
	LocksSet       atomic.Int64
	// InternalErrors counts events whose decoding or scoring panicked (a
	// bug): each was refused with an InternalError instead of stopping
	// the process, and dead-lettered when it came from Kafka.
	InternalErrors atomic.Int64
	// PublishedAnswers counts the events answered with a decision read
	// back from the decisions topic (WarmPublished); each is counted in
	// DuplicatesTotal too.
	PublishedAnswers atomic.Int64
	mu               sync.Mutex
	byRule           map[string]int64
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
	lastByUser *lastDecisions
	lastByIP   *lastDecisions
	// keepOutcomes: the dedupe table keeps each event and its features
	// besides the decision, so that a redelivered duplicate is recorded
	// again in full (only needed when history is written).
	keepOutcomes bool
	feed         *Feed                    // nil unless Config.FeedSize
	pending      chan schemas.ScoredEvent // Submit's queue for RunRecorder
	// newest is the latest occurred_at scored or warmed up, in Unix
	// seconds: the engine's event time (EventTime). Whole seconds, so
	// that the partitions write this shared word about once a second
	// each, not once per event.
	newest  atomic.Int64
	queued  atomic.Int64 // places reserved in pending
	scratch sync.Pool
	// decoder decodes Prepare's messages, its user agents interned.
	decoder *schemas.Decoder
	metrics Metrics
	attack  *attackDetector
	// partitions remembers how far the state has taken in each partition
	// of the events topic, for CatchUp.
	partitions partitionCatchUp
}

// scratch is one goroutine's reusable state for scoring.
type scratch struct {
	result rules.Result
}

// DefaultRecentDecisions is the default of Config.RecentDecisions.
const DefaultRecentDecisions = 100_000

// New checks the configuration and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Rules == nil || cfg.Rules.Current() == nil {
		return nil, errors.New("engine: a loaded rule set is required")
	}
	if cfg.State == nil {
		return nil, errors.New("engine: a state store is required")
	}
	if cfg.RecentDecisions == 0 {
		cfg.RecentDecisions = DefaultRecentDecisions
	}
	if cfg.RecentDecisions < 0 {
		return nil, fmt.Errorf("engine: recent_decisions %d must be positive", cfg.RecentDecisions)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cr, ok := cfg.State.(CounterReader); ok && cfg.Counters == nil {
		cfg.Counters = cr
	}
	if tr, ok := cfg.State.(TrustReader); ok && cfg.Trust == nil {
		cfg.Trust = tr
	}
	if pl, ok := cfg.State.(ProfileLoader); ok && cfg.Profiles == nil {
		cfg.Profiles = pl
	}
	if hm, ok := cfg.State.(HostileMarker); ok && cfg.Hostile == nil {
		cfg.Hostile = hm
	}
	if as, ok := cfg.State.(AddressState); ok && cfg.AddressState == nil {
		cfg.AddressState = as
	}
	if cfg.Addresses != nil && cfg.AddressState == nil {
		return nil, errors.New("engine: sharing addresses needs a state with an address side (AddressState)")
	}
	e := &Engine{
		cfg:          cfg,
		log:          cfg.Logger,
		locks:        NewLockTable(),
		recent:       newRecentDecisions(cfg.RecentDecisions),
		lastByUser:   newLastDecisions(cfg.RecentDecisions),
		lastByIP:     newLastDecisions(cfg.RecentDecisions),
		pending:      make(chan schemas.ScoredEvent, 10_000),
		keepOutcomes: cfg.Recorder.History != nil,
		attack:       newAttackDetector(cfg.AttackMode, cfg.Logger),
		decoder:      schemas.NewDecoder(),
	}
	if cfg.FeedSize < 0 {
		return nil, fmt.Errorf("engine: feed size %d must not be negative", cfg.FeedSize)
	}
	if cfg.FeedSize > 0 {
		e.feed = newFeed(cfg.FeedSize)
	}
	e.scratch.New = func() any { return new(scratch) }
	return e, nil
}

// Metrics returns the engine's counters.
func (e *Engine) Metrics() *Metrics { return &e.metrics }

// Feed returns the console's feed of recent decisions, nil unless
// Config.FeedSize is set.
func (e *Engine) Feed() *Feed { return e.feed }

// Locks returns the lock table.
func (e *Engine) Locks() *LockTable { return e.locks }

// RulesVersion returns the version of the rule set in use.
func (e *Engine) RulesVersion() string { return e.cfg.Rules.Current().Version() }

// Rules returns the rule set in use.
func (e *Engine) Rules() *rules.Set { return e.cfg.Rules.Current() }

// EventTime returns the newest occurred_at the engine has scored or warmed
// up from history, to the second (zero before the first): the event time
// against which idle state and locks are swept, since every window and
// lock runs on event time, not on the wall clock.
func (e *Engine) EventTime() time.Time {
	n := e.newest.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// advance moves the engine's event time to t if t is newer.
func (e *Engine) advance(t time.Time) {
	n := t.Unix()
	for {
		cur := e.newest.Load()
		if n <= cur || e.newest.CompareAndSwap(cur, n) {
			return
		}
	}
}

// ErrEventIDConflict is wrapped by ConflictError.
var ErrEventIDConflict = errors.New("event_id reused for a different attempt")

// ConflictError is the error of an event whose event_id the engine
// remembers for a different attempt: another tenant, user, address,
// outcome or time. An event_id names one attempt (across tenants: see
// README, "Event"), so such an event is neither a duplicate — answering
// it with the other attempt's decision would hide it, a brute-force
// bypass for anyone who can choose the id — nor scored: it is refused
// (409 over HTTP, dead-lettered on Kafka).
type ConflictError struct {
	EventID string
	// Field is the first field that differs from the remembered attempt:
	// tenant_id, user_id, ip, outcome or occurred_at.
	Field string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("event_id %q was already used for another attempt (its %s differs): a reused event_id is a conflict, not a duplicate, and the event was not scored", e.EventID, e.Field)
}

// Unwrap makes errors.Is(err, ErrEventIDConflict) true.
func (e *ConflictError) Unwrap() error { return ErrEventIDConflict }

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
	// Duplicate: the event_id was seen before and this is the earlier
	// outcome. Its Event and Features are the earlier ones when the engine
	// keeps them (a history writer is configured, so a redelivered event
	// is recorded again in full); otherwise Event is the event passed in
	// and Features is nil.
	Duplicate bool
}

// Score decides one validated event and records its effect on the state
// and the lock table (but not on Kafka or history: see Process). A known
// event_id returns the earlier decision and changes nothing, when the
// event is the same attempt; for another attempt the error is a
// *ConflictError and nothing changes either. With dryRun
// the state and locks are only read. The engine may keep ev (it must not
// be reused by the caller); the features are freshly allocated.
func (e *Engine) Score(ev *schemas.LoginEvent, dryRun bool) (Scored, error) {
	return e.score(ev, nil, dryRun)
}

// ScoreInto is Score for a caller that reuses its event and features
// between calls (replay): the features are computed into f, and neither
// ev nor f is kept by the engine, which copies what it remembers. The
// returned Scored refers to ev and f, so it is valid until they are
// reused.
func (e *Engine) ScoreInto(ev *schemas.LoginEvent, f *schemas.Features, dryRun bool) (Scored, error) {
	return e.score(ev, f, dryRun)
}

// score is Score (f nil: allocate the features, keep ev) and ScoreInto.
// A panic while scoring (a bug) is returned as an *InternalError: one
// event that hits a bug must not stop the process and, redelivered after
// the restart, stop it again for ever.
func (e *Engine) score(ev *schemas.LoginEvent, f *schemas.Features, dryRun bool) (_ Scored, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = e.internalError("scoring", ev.EventID, r)
		}
	}()
	if err := e.checkSkew(ev); err != nil {
		return Scored{}, err
	}
	// Looked up before this event's shard is locked: the challenged
	// attempt's entry may be in the same shard.
	var passed *schemas.LoginEvent
	if !dryRun {
		passed = e.passedChallenge(ev)
	}
	h := e.recent.hash(ev.EventID)
	s := e.recent.shard(h)
	// Holding the shard lock across scoring makes a concurrent duplicate
	// (same event by HTTP and Kafka) wait and get the same decision
	// instead of counting twice.
	s.mu.Lock()
	entry, slot, ok := s.lookupLocked(h, ev.EventID)
	if ok && entry.unobserved && !dryRun {
		// A decision read back from the decisions topic: this is the
		// event's first delivery since, answered with it and observed.
		defer s.mu.Unlock()
		if field := entry.conflict(ev); field != "" {
			e.metrics.ConflictsTotal.Add(1)
			return Scored{}, &ConflictError{EventID: ev.EventID, Field: field}
		}
		return e.answerPublished(ev, f, passed, s, slot, entry), nil
	}
	if ok {
		s.mu.Unlock()
		if field := entry.conflict(ev); field != "" {
			e.metrics.ConflictsTotal.Add(1)
			return Scored{}, &ConflictError{EventID: ev.EventID, Field: field}
		}
		e.metrics.DuplicatesTotal.Add(1)
		prev := entry.outcome
		if prev.Event == nil {
			prev.Event = ev
		}
		return Scored{ScoredEvent: prev, Duplicate: true}, nil
	}
	if dryRun {
		s.mu.Unlock()
	} else {
		defer s.mu.Unlock()
	}

	owned := f == nil // the features are ours to hand out and keep
	if owned {
		f = new(schemas.Features)
	} else {
		*f = schemas.Features{}
	}
	if e.cfg.Enricher != nil {
		e.cfg.Enricher.Enrich(ev, f)
	} else {
		fillEventFeatures(ev, f)
	}
	if dryRun {
		e.cfg.State.Peek(ev, f)
	} else {
		e.cfg.State.Observe(ev, f)
		e.shareAddress(ev, f)
	}
	e.attack.observe(ev, f, !dryRun)
	sc := e.scratch.Get().(*scratch)
	keys := e.eventLockKeys(ev, f)
	d := e.decide(e.cfg.Rules.Current(), ev, f, &keys, &sc.result, dryRun)
	e.scratch.Put(sc)
	if !dryRun && d.Decision == schemas.VerdictAllow && ev.Success() {
		// Only a verified login teaches: a challenged success's context
		// stays unfamiliar until a success from it is allowed (with the
		// shipped rules, the gateway's auth_method mfa success that
		// answers the challenge).
		e.cfg.State.Learn(ev, f)
	}
	if passed != nil && d.Decision != schemas.VerdictLockout {
		// The second factor passed: the challenged context is the
		// user's from now on (a lockout of the mfa event itself, by an
		// active lock or its own rules, trusts nothing).
		e.trustContext(passed)
	}
	if !dryRun {
		s.insertLocked(slot, h, ev.EventID, attemptOf(ev), e.keptOutcome(ev, f, d, owned))
		e.advance(ev.OccurredAt)
		e.lastByUser.put(keys.user, d)
		e.lastByIP.put(keys.ip, d)
		if e.feed != nil {
			e.feed.add(d, f)
		}
		e.metrics.EventsTotal.Add(1)
		e.metrics.count(d)
	}
	return Scored{ScoredEvent: schemas.ScoredEvent{Event: ev, Features: f, Decision: d}}, nil
}

// shareAddress hands the address side of the attempt ev, just observed,
// to the other instances, when they share it.
func (e *Engine) shareAddress(ev *schemas.LoginEvent, f *schemas.Features) {
	if e.cfg.Addresses == nil {
		return
	}
	var a schemas.AddressAttempt
	if e.cfg.AddressState.AddressAttempt(ev, f, &a) {
		e.cfg.Addresses.PublishAddress(&a)
	}
}

// ObserveAddress counts an attempt another instance scored in the
// address, network and ASN state (AddressState), as the follower of the
// shared addresses reads them; without an AddressState it does nothing.
func (e *Engine) ObserveAddress(a *schemas.AddressAttempt) {
	if e.cfg.AddressState != nil {
		e.cfg.AddressState.ObserveAddress(a)
	}
}

// fillEventFeatures sets the features that come from the event alone, for
// engines without an Enricher.
func fillEventFeatures(ev *schemas.LoginEvent, f *schemas.Features) {
	f.SetEventFeatures(ev)
	f.IPv6 = ev.Addr.Is6()
	f.Network = features.NetworkOf(ev.Addr).String()
}

// addrKey is the key of an address in IP-scoped locks and the last
// decisions by address: its IPv4 address (features.KeyAddr: IPv4-mapped,
// NAT64, 6to4 and Teredo addresses carry one), or its /64 for IPv6 (an
// attacker rotating inside one /64 is one source). The per-address
// counters use the same mapping, so a lock and the counts that set it
// name the same source.
func addrKey(addr netip.Addr) string {
	addr = features.KeyAddr(addr)
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// ipKey is addrKey for a scored event (ev.Addr is unmapped by
// schemas.ParseIP) without formatting the address again in the usual
// cases: the enrichment's /64 for IPv6 that carries no IPv4 address, the
// event's text for IPv4 sent as IPv4.
func ipKey(addr netip.Addr, f *schemas.Features) string {
	switch {
	case !addr.IsValid():
		return f.IP
	case addr.Is4() && strings.IndexByte(f.IP, ':') < 0:
		return f.IP
	case addr.Is6() && f.Network != "" && features.KeyAddr(addr).Is6():
		return f.Network
	}
	return addrKey(addr)
}

// eventLockKeys are the strings an event's lock keys are made of, with
// their hashes, each computed once per event: user is the user key
// (schemas.UserKey), so a user's locks are its tenant's only; ip and
// device are global.
type eventLockKeys struct {
	user, ip, network, device     string
	hUser, hIP, hNetwork, hDevice uint64 // LockTable.stringHash of each
	// sharedAddr: the address is shared (ip_shared), so that no network
	// lock refuses it: a crowd inside an attacked network is spared.
	sharedAddr bool
}

// eventLockKeys returns the lock keys of an event. Only a client
// device_id is a device lock key: the fallback device key
// (a hash of the user agent) is shared by strangers, so an event without a
// device_id has no device key for locks.
func (e *Engine) eventLockKeys(ev *schemas.LoginEvent, f *schemas.Features) eventLockKeys {
	k := eventLockKeys{user: schemas.UserKey(ev.TenantID, ev.UserID), ip: ipKey(ev.Addr, f), network: f.Network, sharedAddr: f.IPShared}
	if k.network == "" && ev.Addr.IsValid() {
		k.network = features.NetworkOf(ev.Addr).String()
	}
	if f.HasDeviceID {
		k.device = f.DeviceKey
	}
	k.hUser = e.locks.stringHash(k.user)
	k.hIP = e.locks.stringHash(k.ip)
	if k.network != "" {
		k.hNetwork = e.locks.stringHash(k.network)
	}
	if k.device != "" {
		k.hDevice = e.locks.stringHash(k.device)
	}
	return k
}

// lock returns the event's lock key of scope and its hash. A device lock
// on an event without a device_id (possible through a policy's
// default_scope: device), or a network lock on an event without an
// address, falls back to user_ip.
func (k *eventLockKeys) lock(scope schemas.LockScope) (lockKey, uint64) {
	switch scope {
	case schemas.ScopeUser, schemas.ScopeUserUntrusted:
		return lockKey{scope: scope, a: k.user}, combineHash(scope, k.hUser, 0)
	case schemas.ScopeIP:
		return lockKey{scope: scope, a: k.ip}, combineHash(scope, k.hIP, 0)
	case schemas.ScopeNetwork:
		if k.network != "" {
			return lockKey{scope: scope, a: k.network}, combineHash(scope, k.hNetwork, 0)
		}
	case schemas.ScopeDevice:
		if k.device != "" {
			return lockKey{scope: scope, a: k.device}, combineHash(scope, k.hDevice, 0)
		}
	}
	return lockKey{scope: schemas.ScopeUserIP, a: k.user, b: k.ip}, combineHash(schemas.ScopeUserIP, k.hUser, k.hIP)
}

// lockScopesChecked is the order in which active locks are looked up.
var lockScopesChecked = [...]schemas.LockScope{schemas.ScopeUser, schemas.ScopeUserUntrusted, schemas.ScopeIP, schemas.ScopeNetwork, schemas.ScopeUserIP, schemas.ScopeDevice}

// heldLock is an active lock found for an event.
type heldLock struct {
	key   lockKey
	entry lockEntry
	ok    bool
}

// lock is the lock's public form, as LockTable.activeHashed made it for
// the lock as it is now.
func (h *heldLock) lock() schemas.Lock { return h.entry.shown }

// activeLock returns the active lock refusing the event, if any, and the
// active user_untrusted lock that spares it because its context is
// trusted (trusted: f.TrustedDevice or f.TrustedNetwork), if any. A
// network lock never refuses a shared address (keys.sharedAddr): the
// office NAT inside a network an attacker sprays from keeps working.
func (e *Engine) activeLock(keys *eventLockKeys, at time.Time, trusted bool) (refusing, spared heldLock) {
	for _, scope := range lockScopesChecked {
		if (scope == schemas.ScopeDevice && keys.device == "") || (scope == schemas.ScopeNetwork && (keys.network == "" || keys.sharedAddr)) {
			continue
		}
		k, h := keys.lock(scope)
		le, ok := e.locks.activeHashed(h, k, at)
		switch {
		case !ok:
		case scope == schemas.ScopeUserUntrusted && trusted:
			spared = heldLock{k, le, true}
		default:
			return heldLock{k, le, true}, spared
		}
	}
	return heldLock{}, spared
}

// Decisions with their reasons in one allocation: a decision is kept (by
// the dedupe and last-decision tables) exactly as long as its reasons,
// and its lock. A decision that may carry a lock (a lockout, or an
// attempt an account lock spares) has room for it too: an attempt an
// active lock refuses then allocates its decision and the lock's detail,
// not also the lock. A lockout often has more than 4 reasons (the rules
// an attack meets, and "locked"). Under an attack most attempts are
// refused by a lock: 7 allocations each before, 3 now
// (docs/features-performance.md, "Allocations per event").
type (
	decisionWith2 struct {
		d       schemas.Decision
		reasons [2]schemas.Reason
	}
	decisionWith4 struct {
		d       schemas.Decision
		reasons [4]schemas.Reason
	}
	decisionWithLock4 struct {
		d       schemas.Decision
		reasons [4]schemas.Reason
		lock    schemas.Lock
	}
	decisionWithLock8 struct {
		d       schemas.Decision
		reasons [8]schemas.Reason
		lock    schemas.Lock
	}
)

// noReasons is the empty, non-nil reason list (encoded as []); appending
// to it allocates.
var noReasons = []schemas.Reason{}

// newDecision allocates a decision with room for n reasons and, when
// withLock and there are at most 8, for a lock (lockRoom; nil otherwise:
// see keepLock).
func newDecision(n int, withLock bool) (d *schemas.Decision, lockRoom *schemas.Lock) {
	switch {
	case withLock && n <= 4:
		b := new(decisionWithLock4)
		b.d.Reasons = b.reasons[:0]
		return &b.d, &b.lock
	case withLock && n <= 8:
		b := new(decisionWithLock8)
		b.d.Reasons = b.reasons[:0]
		return &b.d, &b.lock
	}
	return newDecisionOf(n), nil
}

// newDecisionOf allocates a decision with room for n reasons.
func newDecisionOf(n int) *schemas.Decision {
	switch {
	case n == 0:
		d := new(schemas.Decision)
		d.Reasons = noReasons
		return d
	case n <= 2:
		b := new(decisionWith2)
		b.d.Reasons = b.reasons[:0]
		return &b.d
	case n <= 4:
		b := new(decisionWith4)
		b.d.Reasons = b.reasons[:0]
		return &b.d
	default:
		d := new(schemas.Decision)
		d.Reasons = make([]schemas.Reason, 0, n)
		return d
	}
}

// keepLock returns room, allocated when nil, holding l.
func keepLock(room *schemas.Lock, l schemas.Lock) *schemas.Lock {
	if room == nil {
		room = new(schemas.Lock)
	}
	*room = l
	return room
}

// decide evaluates the rules and the policy for one event.
//
// An active lock covering the attempt refuses it (reason "locked", the
// lock's expiry) without the rules having to match again, and the attempt
// does not extend that lock. Rules still run: when they lock a different
// key (an IP-wide lock during a user_ip lock, say) that lock is set too.
// The allowlist is the one thing that wins over an active lock.
//
// A user_untrusted lock (account-wide) spares the user's trusted contexts
// (f.TrustedDevice or f.TrustedNetwork): such an attempt, when that lock
// is active or its own rules ask for it, gets at most the policy's
// trusted_context_max and at least that while the lock is active, with a
// trusted_context reason saying which lock and why the context is
// trusted, and that lock as the decision's lock (unless the attempt sets
// another). Its own rules still set the lock on the account: the attack
// goes on elsewhere. An attempt never sets or extends the lock that
// refuses or spares it, so offences on a key are counted once per lock.
func (e *Engine) decide(set *rules.Set, ev *schemas.LoginEvent, f *schemas.Features, keys *eventLockKeys, res *rules.Result, dryRun bool) *schemas.Decision {
	set.Evaluate(f, ev.Addr, res)
	trusted := f.TrustedDevice || f.TrustedNetwork
	var refusing, spared heldLock
	if res.DecidedBy != rules.ByAllowlist && res.DecidedBy != rules.ByRuleAllow {
		refusing, spared = e.activeLock(keys, ev.OccurredAt, trusted)
	}
	locked := refusing.ok
	n := len(res.Matched)
	if locked || trusted {
		n++
	}
	if res.SparedCrowd {
		n++
	}
	d, lockRoom := newDecision(n, locked || spared.ok || res.Verdict == schemas.VerdictLockout)
	d.EventID = ev.EventID
	d.UserID = ev.UserID
	d.IP = ev.IP
	d.OccurredAt = ev.OccurredAt
	d.DecidedAt = ev.OccurredAt
	d.RulesVersion = set.Version()
	if e.cfg.Clock != nil {
		d.DecidedAt = e.cfg.Clock().UTC()
	}
	d.Score = res.Score
	d.Decision = res.Verdict
	d.Reasons = res.Reasons(f, d.Reasons)
	if res.SparedCrowd {
		d.Reasons = append(d.Reasons, schemas.Reason{Rule: schemas.ReasonSharedAddress, Detail: sharedDetail(res.SparedScope, f)})
	}
	if len(res.Shadow) > 0 {
		d.Shadow = res.ShadowHits(make([]schemas.ShadowHit, 0, len(res.Shadow)))
	}
	sparedRequest := false // this attempt's rules ask for the lock that spares it
	if res.Verdict == schemas.VerdictLockout {
		k, _ := keys.lock(res.Lock.Scope)
		sparedRequest = trusted && k.scope == schemas.ScopeUserUntrusted
		if (!locked || k != refusing.key) && (!spared.ok || k != spared.key) {
			d.Lock = keepLock(lockRoom, e.setLock(set, k, ev, res, dryRun))
		}
	}
	switch {
	case locked:
		lock := refusing.lock()
		d.Decision = schemas.VerdictLockout
		if d.Lock == nil {
			d.Lock = keepLock(lockRoom, lock)
		}
		d.Reasons = append(d.Reasons, schemas.Reason{Rule: schemas.ReasonLocked, Weight: 0, Detail: refusing.entry.shownDetail})
	case spared.ok || sparedRequest:
		most := set.Policy().TrustedContextMax
		if sparedRequest || d.Decision.Severity() < most.Severity() {
			d.Decision = most
		}
		lock, sets := d.Lock, true
		if spared.ok {
			l := spared.lock()
			lock, sets = &l, false
			if d.Lock == nil {
				d.Lock = keepLock(lockRoom, l) // the account lock this context met
			}
		}
		d.Reasons = append(d.Reasons, schemas.Reason{Rule: schemas.ReasonTrustedContext, Weight: 0, Detail: e.trustedDetail(lock, sets, ev, f, most)})
	}
	return d
}

// sharedDetail is the detail of the "shared_address" reason: "no ip lock
// on a shared address: <n> users succeeded from it in 7 days, <p>% of its
// attempts in 24 h", or for a network lock (scope network) on a shared
// network "no network lock on a shared network: ..." with the network's
// counts (the address's when only the address is shared).
func sharedDetail(scope schemas.LockScope, f *schemas.Features) string {
	var stack [128]byte
	users, ratio := f.IPSucceededUsers7d, f.IPSuccessRatio24h
	b := append(stack[:0], "no ip lock on a shared address: "...)
	if scope == schemas.ScopeNetwork {
		b = append(stack[:0], "no network lock on a shared "...)
		if f.NetShared {
			users, ratio = f.NetSucceededUsers7d, f.NetSuccessRatio24h
			b = append(b, "network: "...)
		} else {
			b = append(b, "address in the network: "...)
		}
	}
	b = strconv.AppendInt(b, int64(users), 10)
	b = append(b, " users succeeded from it in 7 days, "...)
	b = strconv.AppendInt(b, int64(math.Round(100*ratio)), 10)
	b = append(b, "% of its attempts in 24 h"...)
	return string(b)
}

// trustedDetail is the detail of the trusted_context reason: "[sets ]<lock
// as in lockedDetail> spares this trusted context (device <id> trusted
// since <RFC 3339>, network <cidr> trusted since <RFC 3339>): at most
// <verdict>", with "sets " when this attempt set the lock (warm-up tells
// a lock set from one reported by the prefix). It runs only for a trusted
// context that meets an account-wide lock, so it may allocate.
func (e *Engine) trustedDetail(l *schemas.Lock, sets bool, ev *schemas.LoginEvent, f *schemas.Features, most schemas.Verdict) string {
	var b strings.Builder
	if sets {
		b.WriteString("sets ")
	}
	b.WriteString(lockedDetail(l))
	b.WriteString(" spares this trusted context (")
	var contexts []schemas.TrustedContext
	if e.cfg.Trust != nil {
		contexts = e.cfg.Trust.TrustedContexts(ev.TenantID, ev.UserID, ev.OccurredAt)
	}
	parts := 0
	add := func(trusted bool, kind, key string) {
		if !trusted {
			return
		}
		if parts > 0 {
			b.WriteString(", ")
		}
		parts++
		b.WriteString(kind + " " + key + " trusted")
		for _, c := range contexts {
			if c.Kind == kind && c.Key == key {
				b.WriteString(" since " + c.FirstSeen.Format(time.RFC3339))
			}
		}
	}
	add(f.TrustedDevice, schemas.TrustedDevice, ev.DeviceID)
	add(f.TrustedNetwork, schemas.TrustedNetwork, f.Network)
	b.WriteString("): at most " + string(most))
	return b.String()
}

// lockedDetail is the detail of the "locked" reason:
// "<scope> lock on <key>[ in tenant <tenant>] until <RFC 3339> (set by <rule>)".
func lockedDetail(l *schemas.Lock) string {
	var stack [160]byte
	b := appendLockedPrefix(stack[:0], l)
	b = l.Until.AppendFormat(b, time.RFC3339)
	b = append(b, " (set by "...)
	b = append(b, l.Rule...)
	b = append(b, ')')
	return string(b)
}

// appendLockedPrefix appends the start of lockedDetail, up to the time:
// "<scope> lock on <key>[ in tenant <tenant>] until ".
func appendLockedPrefix(b []byte, l *schemas.Lock) []byte {
	b = append(b, l.Scope...)
	b = append(b, " lock on "...)
	b = append(b, l.Key...)
	if l.TenantID != "" {
		b = append(b, " in tenant "...)
		b = append(b, l.TenantID...)
	}
	return append(b, " until "...)
}

// setLock locks k from the event's time for the policy's escalated
// duration (only computed, not stored, in a dry run). The lock ends on a
// whole second, rounded up: history keeps lock ends to the second, and a
// decision read back from it (a redelivered event's, after a restart) must
// be the one first published.
func (e *Engine) setLock(set *rules.Set, k lockKey, ev *schemas.LoginEvent, res *rules.Result, dryRun bool) schemas.Lock {
	policy := set.Policy()
	duration := func(prior int) time.Duration {
		return ceilSecond(ev.OccurredAt.Add(policy.LockDuration(res.Lock.Base, prior))).Sub(ev.OccurredAt)
	}
	var until time.Time
	if dryRun {
		until = ev.OccurredAt.Add(duration(0))
	} else {
		until = e.locks.set(k, ev.OccurredAt, res.Lock.Rule, policy.OffenceResetAfter, duration)
		e.metrics.LocksSet.Add(1)
	}
	return k.lock(until, res.Lock.Rule)
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// Prepare decodes and scores a batch of raw messages: valid events are
// decided (a redelivered event_id gets its earlier decision), invalid ones
// are set aside for the dead-letter sink.
func (e *Engine) Prepare(msgs []Message) *Batch {
	b := &Batch{Scored: make([]schemas.ScoredEvent, 0, len(msgs))}
	// Without history the engine keeps neither events nor features, so
	// the batch holds them in two slices instead of two allocations per
	// event.
	var events []schemas.LoginEvent
	var feats []schemas.Features
	if !e.keepOutcomes {
		events, feats = make([]schemas.LoginEvent, len(msgs)), make([]schemas.Features, len(msgs))
	}
	for i := range msgs {
		var ev *schemas.LoginEvent
		if events != nil {
			ev = &events[i]
		} else {
			ev = new(schemas.LoginEvent)
		}
		err := e.decode(msgs[i].Value, ev)
		var out Scored
		if err == nil {
			if feats != nil {
				out, err = e.ScoreInto(ev, &feats[i], false)
			} else {
				out, err = e.Score(ev, false)
			}
		}
		if err != nil {
			b.Rejected = append(b.Rejected, rejected(msgs[i], err))
			continue
		}
		out.Position = schemas.StreamPosition{Kafka: true, Partition: int32(msgs[i].Partition), Offset: msgs[i].Offset}
		b.Scored = append(b.Scored, out.ScoredEvent)
	}
	// The state has taken in each partition up to its last message here
	// (a batch from the stream holds one partition, in offset order).
	for i := range msgs {
		if i == len(msgs)-1 || msgs[i+1].Partition != msgs[i].Partition {
			e.partitions.applied(int32(msgs[i].Partition), msgs[i].Offset)
		}
	}
	if len(b.Rejected) > 0 {
		e.metrics.RejectedTotal.Add(int64(len(b.Rejected)))
	}
	return b
}

// rejected is the refused message msg as the engine keeps it for the
// dead-letter sink: without its password_fp, which is never written
// anywhere (schemas.RedactPasswordFP; Redacted says when the copy is
// not the whole message).
func rejected(msg Message, err error) Rejected {
	value, cut := schemas.RedactPasswordFP(msg.Value)
	msg.Value = value
	return Rejected{Message: msg, Err: err, Redacted: cut}
}

// Decoder returns the engine's decoder of events, which interns their
// user agents: the HTTP API decodes through it too, so that the process
// keeps one table of them.
func (e *Engine) Decoder() *schemas.Decoder { return e.decoder }

// decode is schemas.Decode (through the engine's Decoder, which interns
// user agents), with a panic (a bug) returned as an *InternalError, as
// score does.
func (e *Engine) decode(data []byte, ev *schemas.LoginEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = e.internalError("decoding", "", r)
		}
	}()
	return e.decoder.Decode(data, ev)
}

// InternalError is the error of an event whose decoding or scoring
// panicked: a bug in loginrisk, not in the event. The stack is in the log.
type InternalError struct {
	Stage string // "decoding" or "scoring"
	Panic string // the panic's value
}

func (e *InternalError) Error() string {
	return "internal error while " + e.Stage + " this event (a loginrisk bug; the stack is in its log): " + e.Panic
}

// maxLoggedStacks bounds the stacks logged for internal errors: a flood
// of events hitting one bug logs the first ones in full, then a line each.
const maxLoggedStacks = 20

// internalError counts and logs a recovered panic and returns its error.
func (e *Engine) internalError(stage, eventID string, r any) *InternalError {
	n := e.metrics.InternalErrors.Add(1)
	err := &InternalError{Stage: stage, Panic: fmt.Sprint(r)}
	attrs := []any{"stage", stage, "event_id", eventID, "panic", err.Panic, "internal_errors", n}
	if n <= maxLoggedStacks {
		attrs = append(attrs, "stack", string(debug.Stack()))
	}
	e.log.Error("internal error: an event was refused instead of stopping the engine", attrs...)
	return err
}

// Record dead-letters the rejected messages and records the scored events
// (decision published, history stored). It is safe to call again after an
// error: Kafka consumers tolerate a republished decision and history
// dedupes on event_id.
func (e *Engine) Record(ctx context.Context, b *Batch) error {
	if err := e.deadLetter(ctx, b); err != nil {
		return err
	}
	if err := e.cfg.Recorder.Record(ctx, b.Scored); err != nil {
		return err
	}
	return e.recordAttackModeChanges(ctx)
}

// Publish dead-letters the rejected messages, hands the history rows to
// the history writer without waiting for their insert, and publishes the
// decisions (engine.PublishingProcessor); durable waits for the insert.
// The rows go first, so the writer's back-pressure (a full buffer) holds
// the decisions back too: at most its buffer of decisions is published
// ahead of the history. It is safe to call again after an error: what was
// done is not done twice.
//
// A decision is then on the topic before its history row is stored: a
// crash in between redelivers the event (its offset is not committed), and
// the restarted engine, which does not find it in history, scores it again.
// docs/reliability.md says what that means for its verdict.
func (e *Engine) Publish(ctx context.Context, b *Batch) (durable func(context.Context) error, err error) {
	if err := e.deadLetter(ctx, b); err != nil {
		return nil, err
	}
	if b.durable == nil {
		if b.durable, err = e.cfg.Recorder.enqueue(ctx, b.Scored); err != nil {
			return nil, err
		}
	}
	if !b.published {
		if err := e.cfg.Recorder.publish(ctx, b.Scored); err != nil {
			return nil, err
		}
		b.published = true
	}
	wait := b.durable
	return func(ctx context.Context) error {
		if err := wait(ctx); err != nil {
			return err
		}
		return e.recordAttackModeChanges(ctx)
	}, nil
}

// deadLetter stores the rejected messages of b once.
func (e *Engine) deadLetter(ctx context.Context, b *Batch) error {
	if len(b.Rejected) == 0 {
		return nil
	}
	if e.cfg.DLQ == nil {
		e.log.Warn("rejected invalid events", "count", len(b.Rejected), "first_err", b.Rejected[0].Err)
	} else if err := e.cfg.DLQ.DeadLetter(ctx, b.Rejected); err != nil {
		return err
	}
	b.Rejected = nil // done: a retry does not dead-letter twice
	return nil
}

// ParseLockKey parses the text form of a lock key ("user|ip" for user_ip)
// of a user in tenant (schemas.Lock.TenantID; "" for the default tenant)
// and checks it against the field limits: a user part of at most
// schemas.MaxUserIDLen bytes, a tenant of at most schemas.MaxTenantIDLen,
// a device key of at most schemas.MaxDeviceIDLen, an address part that is
// an address or a network in text form of at most schemas.MaxIPKeyLen, a
// network key that is an IPv4 /24 or IPv6 /64 in canonical CIDR form. A
// tenant is only part of a scope that names a user: with another scope it
// makes the key invalid.
func ParseLockKey(scope schemas.LockScope, tenant, key string) (lockKey, bool) {
	if !scope.Valid() || key == "" || len(key) > schemas.MaxLockKeyLen || len(tenant) > schemas.MaxTenantIDLen ||
		(tenant != "" && !scope.HasUser()) || !schemas.UserKeyPart(tenant) || (scope.HasUser() && !schemas.UserKeyPart(key)) {
		return lockKey{}, false
	}
	switch scope {
	case schemas.ScopeUser, schemas.ScopeUserUntrusted:
		return lockKey{scope: scope, a: schemas.UserKey(tenant, key)}, len(key) <= schemas.MaxUserIDLen
	case schemas.ScopeDevice:
		return lockKey{scope: scope, a: key}, len(key) <= schemas.MaxDeviceIDLen
	case schemas.ScopeIP:
		return lockKey{scope: scope, a: key}, validIPKey(key)
	case schemas.ScopeNetwork:
		return lockKey{scope: scope, a: key}, validNetworkKey(key)
	}
	i := strings.LastIndexByte(key, '|')
	if i <= 0 || i > schemas.MaxUserIDLen || !validIPKey(key[i+1:]) {
		return lockKey{}, false
	}
	return lockKey{scope: scope, a: schemas.UserKey(tenant, key[:i]), b: key[i+1:]}, true
}

// validIPKey reports whether s can be the address part of a lock key: an
// address or a network (an IPv6 /64) in text form.
func validIPKey(s string) bool {
	if s == "" || len(s) > schemas.MaxIPKeyLen {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// validNetworkKey reports whether s can be the key of a network lock: an
// IPv4 /24 or IPv6 /64 in the canonical CIDR form of features.NetworkOf.
func validNetworkKey(s string) bool {
	if s == "" || len(s) > schemas.MaxIPKeyLen {
		return false
	}
	p, err := netip.ParsePrefix(s)
	return err == nil && features.NetworkOf(p.Addr()) == p && p.String() == s
}

// Decision returns the remembered decision for an event id.
func (e *Engine) Decision(eventID string) (*schemas.Decision, bool) {
	se, ok := e.recent.get(eventID)
	return se.Decision, ok
}
