package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// publishedSlice is a PublishedSource over decisions in memory; since is
// recorded.
type publishedSlice struct {
	ds    []*schemas.Decision
	since time.Time
}

func (p *publishedSlice) PublishedDecisions(_ context.Context, since time.Time, fn func(*schemas.Decision) error) error {
	p.since = since
	for _, d := range p.ds {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// TestAnsweredFromPublished: a decision read back from the decisions
// topic answers the first delivery of its event byte for byte — even when
// this engine would decide otherwise — and that delivery is observed as a
// warmed-up event: the lock the decision set refuses the user's next
// attempt, with its recorded end. Later deliveries are plain duplicates;
// an event the dedupe memory already knew keeps its decision; another
// attempt under the id is a conflict; a dry run neither observes nor
// consumes the entry.
func TestAnsweredFromPublished(t *testing.T) {
	e := newGeoEngine(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	event := func(id, user string, at time.Time) *schemas.LoginEvent {
		ev := new(schemas.LoginEvent)
		if err := schemas.Decode(fmt.Appendf(nil, `{"event_id":%q,"occurred_at":%q,"user_id":%q,"outcome":"success","ip":"81.2.69.160"}`,
			id, at.Format(time.RFC3339), user), ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	// Scored here first: known to the dedupe memory before the read-back.
	known, err := e.Score(event("known", "bob", t0), false)
	if err != nil {
		t.Fatal(err)
	}
	until := t0.Add(30 * time.Minute)
	published := &schemas.Decision{
		EventID: "x1", UserID: "alice", IP: "81.2.69.160", OccurredAt: t0.Add(time.Second), DecidedAt: t0.Add(2 * time.Second),
		Score: 90, Decision: schemas.VerdictLockout, RulesVersion: "earlier",
		Lock:    &schemas.Lock{Scope: schemas.ScopeUserIP, Key: "alice|81.2.69.160", Until: until, Rule: "credential_stuffing"},
		Reasons: []schemas.Reason{{Rule: "credential_stuffing", Weight: 90, Detail: "as first decided"}},
	}
	other := &schemas.Decision{EventID: "known", UserID: "bob", IP: "81.2.69.160", OccurredAt: t0, Score: 99, Decision: schemas.VerdictLockout, Reasons: []schemas.Reason{}}
	lift := &schemas.Decision{EventID: "admin-lift-x", UserID: "alice", IP: "81.2.69.160", OccurredAt: t0,
		Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: "alice", Until: t0, Rule: AdminLiftRule}}
	plain := &schemas.Decision{EventID: "x0", UserID: "carol", IP: "81.2.69.160", OccurredAt: t0, DecidedAt: t0, Score: 3, Decision: schemas.VerdictAllow, RulesVersion: "earlier", Reasons: []schemas.Reason{}}
	src := &publishedSlice{ds: []*schemas.Decision{published, other, lift, plain}}
	since := t0.Add(-time.Minute)
	st, err := e.WarmPublished(context.Background(), src, since)
	if err != nil {
		t.Fatal(err)
	}
	if !src.since.Equal(since) || st.Read != 4 || st.Remembered != 2 {
		t.Fatalf("WarmPublished read since %s: %+v; want since %s, 4 read, 2 remembered (x0 and x1: known was scored, the lift answers no event)", src.since, st, since)
	}
	// A decision without a lock answers its event too.
	if got, err := e.Score(event("x0", "carol", t0), false); err != nil || !got.Duplicate || !reflect.DeepEqual(got.Decision, plain) {
		t.Fatalf("x0: %+v, %v; want the published allow %+v", got.Decision, err, plain)
	}

	dry, err := e.Score(event("x1", "alice", t0.Add(time.Second)), true)
	if err != nil || dry.Decision != published || e.Metrics().PublishedAnswers.Load() != 1 {
		t.Fatalf("dry run: %+v, %v, %d answered; want the published decision, nothing observed", dry.Decision, err, e.Metrics().PublishedAnswers.Load())
	}
	if _, err := e.Score(event("x1", "mallory", t0.Add(time.Second)), false); !errors.Is(err, ErrEventIDConflict) {
		t.Fatalf("another user under x1: %v, want a conflict", err)
	}
	for i := range 2 {
		got, err := e.Score(event("x1", "alice", t0.Add(time.Second)), false)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Duplicate || !reflect.DeepEqual(got.Decision, published) {
			t.Fatalf("delivery %d of x1: duplicate %v, %+v; want the published decision %+v", i+1, got.Duplicate, got.Decision, published)
		}
		if i == 0 && got.Features == nil {
			t.Fatal("the first delivery of x1 has no features: it was not observed")
		}
	}
	if n := e.Metrics().PublishedAnswers.Load(); n != 2 {
		t.Fatalf("%d events answered from the read-back, want 2 (x0, and x1 observed once)", n)
	}
	again, err := e.Score(event("known", "bob", t0), false)
	if err != nil || again.Decision != known.Decision {
		t.Fatalf("known redelivered: %+v, %v; want its first decision %+v", again.Decision, err, known.Decision)
	}

	// The lock x1's decision set is in the lock table with its end.
	next, err := e.Score(event("x2", "alice", t0.Add(time.Minute)), false)
	if err != nil {
		t.Fatal(err)
	}
	if next.Decision.Decision != schemas.VerdictLockout || next.Decision.Lock == nil || !next.Decision.Lock.Until.Equal(until) || next.Decision.Lock.Rule != "credential_stuffing" {
		t.Fatalf("alice's next attempt: %+v lock %+v; want a lockout by the lock x1's decision set, until %s", next.Decision, next.Decision.Lock, until)
	}
}

// TestPublishedSince: the read-back starts at the earliest of the
// partitions' newest stored decision (by offset), less PublishedSkew; at
// the beginning without events from the topic.
func TestPublishedSince(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	row := func(partition int32, offset int64, decided time.Time) schemas.ScoredEvent {
		return schemas.ScoredEvent{Position: schemas.StreamPosition{Kafka: true, Partition: partition, Offset: offset}, Decision: &schemas.Decision{DecidedAt: decided}}
	}
	b := publishedBound{}
	if !b.since().IsZero() {
		t.Fatalf("since without rows: %s, want zero", b.since())
	}
	b.add(schemas.ScoredEvent{Decision: &schemas.Decision{DecidedAt: t0.Add(-time.Hour)}}) // over HTTP: no position
	b.add(row(0, 10, t0.Add(5*time.Second)))
	b.add(row(0, 9, t0.Add(9*time.Second))) // an older offset, republished later: not the newest
	b.add(row(1, 3, t0.Add(-2*time.Second)))
	b.add(row(1, 4, t0))
	b.add(row(2, 7, t0.Add(time.Minute)))
	if want := t0.Add(-PublishedSkew); !b.since().Equal(want) {
		t.Fatalf("since %s, want %s (partition 1's newest, less the skew)", b.since(), want)
	}
}
