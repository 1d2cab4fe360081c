package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// PublishedSkew is how much earlier than the bound the read-back of
// published decisions starts (WarmStats.PublishedSince): the clock
// difference it tolerates between the decided_at an engine stamps and
// the timestamp the broker keeps for the decision's message (kafka-go
// stamps it with the same process's clock when it writes; a topic with
// message.timestamp.type LogAppendTime uses the broker's). Each second
// of it costs a second of decisions read at start-up.
const PublishedSkew = 5 * time.Second

// PublishedStats reports what WarmPublished read back.
type PublishedStats struct {
	// Since is the broker time the read-back started at.
	Since time.Time
	// Read counts the decisions read; Remembered those remembered to
	// answer their event with (the others were already known from
	// history, or were not login decisions).
	Read, Remembered int
}

// WarmPublished reads back, from src, the decisions published since
// (WarmStats.PublishedSince of the warm-up just done) and remembers each
// one whose event_id the dedupe memory does not hold yet: its history
// row may not have been inserted before the previous process stopped
// (with kafka.publish_before_history a decision is published before its
// row is stored, docs/reliability.md). The first delivery of such an
// event is then answered with that decision (answerPublished) instead
// of being scored again from a state that lacked it, and is observed as
// a warmed-up event is. The remembered decisions share the dedupe
// memory's bound (Config.RecentDecisions). Analysts' labels and
// administrators' records are skipped: they answer no login event.
//
// Call it after WarmUp and before consuming.
func (e *Engine) WarmPublished(ctx context.Context, src PublishedSource, since time.Time) (PublishedStats, error) {
	st := PublishedStats{Since: since}
	err := src.PublishedDecisions(ctx, since, func(d *schemas.Decision) error {
		st.Read++
		if d == nil || d.EventID == "" || d.Feedback != nil || (d.Lock != nil && d.Lock.Rule == AdminLiftRule) {
			return nil
		}
		if e.recent.putUnobserved(d) {
			st.Remembered++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reading back the decisions published since %s: %w", since.Format(time.RFC3339), err)
	}
	return st, nil
}

// answerPublished answers ev, the first delivery of an event whose
// decision entry (read back by WarmPublished) holds, with that decision
// byte for byte, and observes it as the warm-up observes an event from
// history (observeDecided): features computed into f (nil: allocated),
// fed to the state, the lock the decision set installed with its
// recorded end — as a lock followed from the decisions topic is, so that
// the follower reading the same decision counts its offence once — and
// the entry replaced by the event's full outcome. A second factor that
// passed (passed) trusts its context, as when the decision was made.
// The caller holds shard s's lock; slot is the entry's index slot.
func (e *Engine) answerPublished(ev *schemas.LoginEvent, f *schemas.Features, passed *schemas.LoginEvent, s *recentShard, slot int, entry recentEntry) Scored {
	owned := f == nil
	if owned {
		f = new(schemas.Features)
	}
	d := entry.outcome.Decision
	var refused lockRefusals
	e.observeDecided(ev, d, f, func(_ *schemas.LoginEvent, d *schemas.Decision) error {
		err := e.ApplyDecision(d)
		if d.Lock != nil && reportsActiveLock(d) {
			// It set no lock, only met one (installed if admitted, as the
			// follower does); the event that set it brought it.
			return nil
		}
		return err
	}, &refused)
	if refused.keys != nil {
		e.log.Warn("a decision read back from the decisions topic set a lock that was refused", "event_id", ev.EventID, "err", refused.first)
	}
	if passed != nil && d.Decision != schemas.VerdictLockout {
		e.trustContext(passed)
	}
	s.insertLocked(slot, entry.hash, entry.key, attemptOf(ev), e.keptOutcome(ev, f, d, owned))
	e.metrics.DuplicatesTotal.Add(1)
	e.metrics.PublishedAnswers.Add(1)
	return Scored{ScoredEvent: schemas.ScoredEvent{Event: ev, Features: f, Decision: d}, Duplicate: true}
}

// publishedBound tracks, over the events the warm-up reads from history,
// the decided_at of the newest stored event (by offset) of each
// partition of the events topic: the bound WarmStats.PublishedSince is
// derived from.
type publishedBound map[int32]struct {
	offset    int64
	decidedAt time.Time
}

// add takes in one event read from history.
func (b publishedBound) add(se schemas.ScoredEvent) {
	if !se.Position.Kafka || se.Decision == nil {
		return
	}
	p, ok := b[se.Position.Partition]
	if !ok || se.Position.Offset > p.offset {
		p.offset, p.decidedAt = se.Position.Offset, se.Decision.DecidedAt
		b[se.Position.Partition] = p
	}
}

// since is where a read-back of the decisions that history may lack
// starts: the earliest of the partitions' newest decided_at, less
// PublishedSkew; zero (everything) when history holds no event from the
// topic. docs/reliability.md ("After a restart") gives the argument.
func (b publishedBound) since() time.Time {
	var since time.Time
	for _, p := range b {
		if since.IsZero() || p.decidedAt.Before(since) {
			since = p.decidedAt
		}
	}
	if since.IsZero() {
		return since
	}
	return since.Add(-PublishedSkew)
}
