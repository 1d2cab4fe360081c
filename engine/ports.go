package engine

import (
	"context"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// DecisionPublisher publishes decisions (to the login-decisions topic) and
// returns only once the broker has acknowledged every one of them.
type DecisionPublisher interface {
	PublishDecisions(ctx context.Context, decisions []*schemas.Decision) error
}

// HistoryWriter stores scored events durably (ClickHouse) and returns only
// once every one of them is inserted. Implementations batch across callers
// and block when their buffer is full, which is the back-pressure that slows
// the Kafka consumer.
type HistoryWriter interface {
	WriteHistory(ctx context.Context, events []schemas.ScoredEvent) error
}

// Recorder is what "recording" a decision means: publish it and keep its
// history. Either part may be nil (replay has neither).
type Recorder struct {
	Publisher DecisionPublisher
	History   HistoryWriter
}

// Record publishes and stores a batch; it returns the first error.
func (r Recorder) Record(ctx context.Context, batch []schemas.ScoredEvent) error {
	if len(batch) == 0 {
		return nil
	}
	if r.Publisher != nil {
		ds := make([]*schemas.Decision, len(batch))
		for i := range batch {
			ds[i] = batch[i].Decision
		}
		if err := r.Publisher.PublishDecisions(ctx, ds); err != nil {
			return err
		}
	}
	if r.History != nil {
		if err := r.History.WriteHistory(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// WarmSource rebuilds state at start-up from history, so a restart does not
// hand attackers a fresh window. Profiles streams every user's profile (one
// aggregate query); Recent streams the scored events since a time in
// event-time order (the windows); ActiveLocks returns the locks still active
// at now.
type WarmSource interface {
	Profiles(ctx context.Context, fn func(*schemas.UserProfile) error) error
	Recent(ctx context.Context, since time.Time, fn func(schemas.ScoredEvent) error) error
	ActiveLocks(ctx context.Context, now time.Time) ([]schemas.Lock, error)
}
