package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// WarmSpan is how much event time before the newest event in history the
// warm-up replays: the longest window the state keeps (24 h).
const WarmSpan = 24 * time.Hour

// WarmStats reports what a warm-up restored.
type WarmStats struct {
	// Anchor is the newest occurred_at in history (zero when it is
	// empty): the warm-up's "now", in event time.
	Anchor   time.Time
	Profiles int
	// TrustedContexts counts the devices and networks loaded as trusted
	// (see TrustSource).
	TrustedContexts int
	Events          int
	// Offences counts the locks set before the span, read from history
	// (OffenceSource) for the escalation ladder.
	Offences int
	Locks    int
	// LocksRefused counts the locks of history that admitLock refused
	// (longer than the policy's longest lock, beyond the field limits).
	LocksRefused int
	// PublishedSince is where a read-back of the decisions published
	// before their history rows were inserted starts (WarmPublished):
	// the earliest, over the partitions of the events topic, of the
	// decided_at of the partition's newest event in history, less
	// PublishedSkew; zero when history holds no event from the topic.
	PublishedSince time.Time
}

// WarmUp rebuilds the state from history so that a restart does not hand
// an attacker a fresh window, and so that a redelivered event gets the
// decision it got before. Everything is anchored at the newest occurred_at
// in history, never at the wall clock: the windows and locks run on event
// time, so after an outage, with a backlog or when older events are
// replayed, the state is the one the events imply. In order:
//
//   - user profiles (one aggregate over every allowed success), and the
//     trusted contexts of the trust retention (TrustSource);
//   - the locks decisions set in the offenceLookback before the span
//     (OffenceSource): set again with their ends, in event order, so that
//     the escalation ladder of every key is the one the engine that never
//     stopped has, however long the policy's offence_reset_after;
//   - the events of the last WarmSpan before the anchor, in event order:
//     each is fed through the state (not through the rules; a success
//     recorded as allowed teaches the profile and trusted contexts again,
//     as when it was scored), the locks
//     their decisions set are set again with the same ends — which rebuilds
//     the offences that escalate the next lock — and their decisions are
//     remembered for dedupe, so a redelivered event_id is answered with
//     its stored decision instead of being scored again;
//   - analysts' labels of that span (feedback records) applied again:
//     trusted contexts and hostile networks;
//   - the locks still active at the anchor that were set before that span,
//     and the lifts made by administrators since.
//
// Every lock from history passes admitLock first, as a lock from another
// instance does: those it refuses are not set, and are counted in
// LocksRefused and logged as one warning.
//
// Call it before consuming.
func (e *Engine) WarmUp(ctx context.Context, src WarmSource) (WarmStats, error) {
	var st WarmStats
	if ps, ok := src.(PartitionSource); ok {
		e.partitions.setSource(ps)
	}
	anchor, err := src.Newest(ctx)
	if err != nil {
		return st, fmt.Errorf("warm-up anchor: %w", err)
	}
	st.Anchor = anchor
	if e.cfg.Profiles != nil {
		err := src.Profiles(ctx, func(p *schemas.UserProfile) error {
			e.cfg.Profiles.LoadProfile(p)
			st.Profiles++
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("warm-up profiles: %w", err)
		}
	}
	if anchor.IsZero() {
		return st, nil // an empty history
	}
	if err := e.warmTrust(ctx, src, anchor, &st); err != nil {
		return st, err
	}
	since := anchor.Add(-WarmSpan)
	policy := e.cfg.Rules.Current().Policy()
	resetAfter := policy.OffenceResetAfter
	var refused lockRefusals
	if err := e.warmOffences(ctx, src, since, offenceLookback(policy.LockDurations, resetAfter), &refused, &st); err != nil {
		return st, err
	}
	var f schemas.Features
	replay := func(ev *schemas.LoginEvent, d *schemas.Decision) error { return e.replayLock(ev, d, resetAfter) }
	bound := publishedBound{}
	err = src.Recent(ctx, since, func(se schemas.ScoredEvent) error {
		bound.add(se)
		if e.warmEvent(se, &f, replay, &refused) {
			st.Events++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("warm-up windows: %w", err)
	}
	st.PublishedSince = bound.since()
	locks, err := src.ActiveLocks(ctx, anchor)
	if err != nil {
		return st, fmt.Errorf("warm-up locks: %w", err)
	}
	// History does not keep when an active lock was set, only that it
	// is active at the anchor: the anchor is the latest it can have been
	// set, which bounds its span from below.
	active := make(map[lockKey]bool, len(locks))
	for i := range locks {
		l := &locks[i]
		k, err := e.admitLock(l, anchor)
		if err != nil {
			refused.add(l, err)
			continue
		}
		// A lock the span did not set was set before it: one offence,
		// older than the span (a no-op for the locks replayed above).
		e.locks.restore(k, since.Add(-time.Second), l.Until, l.Rule, false, resetAfter)
		active[k] = true
		st.Locks++
	}
	if st.LocksRefused = len(refused.keys); st.LocksRefused > 0 {
		e.log.Warn("warm-up refused locks from history", "count", st.LocksRefused, "first_err", refused.first)
	}
	// A lock replayed above that history no longer reports active was
	// lifted by an administrator: lift it again (its offences stay).
	for _, l := range e.locks.Active(anchor) {
		if k, ok := ParseLockKey(l.Scope, l.TenantID, l.Key); ok && !active[k] {
			e.locks.lift(k, anchor, -1)
		}
	}
	return st, nil
}

// warmEvent feeds one scored event from history through the state as
// when it was scored (WarmUp, CatchUp): the features, the windows, the
// profile and trusted contexts of an allowed success, attack mode, the
// lock its decision set (lock; a refused one is added to refused), the
// dedupe memory, the engine's event time and the partition's applied
// offset. An analyst's label read back is applied again, never observed.
// It reports whether the event was observed; f is scratch space.
func (e *Engine) warmEvent(se schemas.ScoredEvent, f *schemas.Features, lock func(*schemas.LoginEvent, *schemas.Decision) error, refused *lockRefusals) bool {
	ev := se.Event
	if ev == nil || se.Decision == nil {
		return false
	}
	if se.Position.Kafka {
		e.partitions.applied(se.Position.Partition, se.Position.Offset)
	}
	if !ev.Addr.IsValid() {
		addr, err := schemas.ParseIP(ev.IP)
		if err != nil {
			return false // history holds only validated events; skip the odd row
		}
		ev.Addr = addr
	}
	if rec, ok := feedbackFromHistory(ev, se.Decision); ok {
		// An analyst's label, not a login: applied again, never
		// observed (a confirmed attack's network must not become
		// familiar to the user).
		_ = e.applyFeedback(rec)
		return false
	}
	e.observeDecided(ev, se.Decision, f, lock, refused)
	e.recent.put(ev.EventID, attemptOf(ev), e.kept(se, f))
	return true
}

// observeDecided feeds an event that already has its decision d (from
// history, or read back from the decisions topic) through the state as
// when d was made, without the rules: the features (into f), the windows,
// attack mode, the profile and trusted contexts of an allowed success,
// the lock d set (lock; a refused one is added to refused) and the
// engine's event time. warmEvent and answerPublished share it.
func (e *Engine) observeDecided(ev *schemas.LoginEvent, d *schemas.Decision, f *schemas.Features, lock func(*schemas.LoginEvent, *schemas.Decision) error, refused *lockRefusals) {
	*f = schemas.Features{}
	if e.cfg.Enricher != nil {
		e.cfg.Enricher.Enrich(ev, f)
	} else {
		fillEventFeatures(ev, f)
	}
	e.cfg.State.Observe(ev, f)
	e.attack.observe(ev, f, true)
	if d.Decision == schemas.VerdictAllow && ev.Success() {
		e.cfg.State.Learn(ev, f) // as when it was scored: only allowed successes teach
	}
	if err := lock(ev, d); err != nil {
		refused.add(d.Lock, err)
	}
	e.advance(ev.OccurredAt)
}

// kept is what the dedupe memory keeps of a decided event whose features
// are in f: without a history writer the decision alone, else the event
// and its features too (a copy of f when se has none).
func (e *Engine) kept(se schemas.ScoredEvent, f *schemas.Features) schemas.ScoredEvent {
	if !e.keepOutcomes {
		se.Event, se.Features = nil, nil
	} else if se.Features == nil {
		se.Features = new(schemas.Features)
		*se.Features = *f
	}
	return se
}

// keptOutcome is what the dedupe memory keeps of an event scored now: the
// decision, and with a history writer the event and its features too,
// copied when the caller does not hand them over (owned false: they are
// the caller's to reuse).
func (e *Engine) keptOutcome(ev *schemas.LoginEvent, f *schemas.Features, d *schemas.Decision, owned bool) schemas.ScoredEvent {
	kept := schemas.ScoredEvent{Decision: d}
	if e.keepOutcomes {
		kept.Event, kept.Features = ev, f
		if !owned {
			kept.Event, kept.Features = new(schemas.LoginEvent), new(schemas.Features)
			*kept.Event, *kept.Features = *ev, *f
		}
	}
	return kept
}

// offenceLookback is how far before the warm span the offences that can
// still change the next lock's rung go back: a key's rung is its chain of
// offences each within resetAfter of the next (and the last within
// resetAfter of the anchor), capped at the last rung; n-1 offences of a
// ladder of n rungs reach the cap, and such a chain spans less than
// (n-1)×resetAfter before the anchor. A chain shorter than that lies
// wholly inside the lookback (its first offence's predecessor would be
// inside it too), so the rung read back is exact. The span's own day is
// part of it.
func offenceLookback(ladder []time.Duration, resetAfter time.Duration) time.Duration {
	return time.Duration(max(len(ladder)-1, 1)) * resetAfter
}

// warmOffences sets again the locks that decisions set between lookback
// before the anchor and since (the start of the replayed span), when the
// source can read them, so that their offences escalate the next lock.
func (e *Engine) warmOffences(ctx context.Context, src WarmSource, since time.Time, lookback time.Duration, refused *lockRefusals, st *WarmStats) error {
	offences, ok := src.(OffenceSource)
	from := since.Add(WarmSpan - lookback)
	if !ok || !from.Before(since) {
		return nil
	}
	resetAfter := e.cfg.Rules.Current().Policy().OffenceResetAfter
	err := offences.Locking(ctx, from, since, func(se schemas.ScoredEvent) error {
		if se.Event == nil || se.Decision == nil {
			return nil
		}
		if err := e.replayLock(se.Event, se.Decision, resetAfter); err != nil {
			refused.add(se.Decision.Lock, err)
			return nil
		}
		if se.Decision.Lock != nil && !reportsActiveLock(se.Decision) {
			st.Offences++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("warm-up offences: %w", err)
	}
	return nil
}

// replayLock sets again, at its event's time and with its recorded end,
// the lock a decision from history set. A decision that only reported an
// active lock (reason "locked" naming the decision's own lock) set none.
// A lock admitLock refuses is not set, and returned as an error.
func (e *Engine) replayLock(ev *schemas.LoginEvent, d *schemas.Decision, resetAfter time.Duration) error {
	l := d.Lock
	if l == nil || l.Rule == AdminLiftRule || !l.Until.After(ev.OccurredAt) || reportsActiveLock(d) {
		return nil
	}
	k, err := e.admitLock(l, ev.OccurredAt)
	if err != nil {
		return err
	}
	until := l.Until
	e.locks.set(k, ev.OccurredAt, l.Rule, resetAfter, func(int) time.Duration { return until.Sub(ev.OccurredAt) })
	return nil
}

// lockRefusals collects the locks of history a warm-up refused: each
// scope and key once (a lock is read both as the event that set it and
// as active), with the first reason for the log.
type lockRefusals struct {
	keys  map[string]struct{}
	first error
}

func (r *lockRefusals) add(l *schemas.Lock, err error) {
	if r.keys == nil {
		r.keys = make(map[string]struct{})
		r.first = err
	}
	r.keys[string(l.Scope)+"\x00"+l.Key] = struct{}{}
}

// TrustSource streams the trusted contexts history holds: the client
// device_ids and networks of allowed successes since a time, with the
// first and last of them; history.Writer implements it. Without it, a
// restart brings back only the trusted contexts of the warm span's events.
type TrustSource interface {
	TrustedContexts(ctx context.Context, since time.Time, fn func(tenantID, userID string, c schemas.TrustedContext) error) error
}

// TrustLoader seeds one trusted context of a user of a tenant (warm restart);
// state.Store implements it.
type TrustLoader interface {
	LoadTrustedContext(tenantID, userID string, c schemas.TrustedContext)
}

// warmTrust loads the trusted contexts of the trust retention before the
// anchor, when the source and the state support it, so that a restart
// during an attack does not lock the owner out of a device or network
// last used before the warm span.
func (e *Engine) warmTrust(ctx context.Context, src WarmSource, anchor time.Time, st *WarmStats) error {
	ts, ok := src.(TrustSource)
	loader, ok2 := e.cfg.State.(TrustLoader)
	if !ok || !ok2 {
		return nil
	}
	err := ts.TrustedContexts(ctx, anchor.Add(-state.TrustRetention), func(tenantID, userID string, c schemas.TrustedContext) error {
		loader.LoadTrustedContext(tenantID, userID, c)
		st.TrustedContexts++
		return nil
	})
	if err != nil {
		return fmt.Errorf("warm-up trusted contexts: %w", err)
	}
	return nil
}

// reportsActiveLock reports whether d's lock is the active lock its
// "locked" reason names, or the active user_untrusted lock its
// "trusted_context" reason names (see decide, lockedDetail and
// trustedDetail), rather than a lock d set.
func reportsActiveLock(d *schemas.Decision) bool {
	prefix := string(appendLockedPrefix(nil, d.Lock))
	for _, r := range d.Reasons {
		if (r.Rule == schemas.ReasonLocked || r.Rule == schemas.ReasonTrustedContext) && strings.HasPrefix(r.Detail, prefix) {
			return true
		}
	}
	return false
}
