package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// gatedHistory is a HistoryEnqueuer whose inserts complete when gate is
// closed.
type gatedHistory struct {
	mu       sync.Mutex
	enqueued []schemas.ScoredEvent
	gate     chan struct{}
}

func (h *gatedHistory) WriteHistory(ctx context.Context, events []schemas.ScoredEvent) error {
	durable, err := h.EnqueueHistory(ctx, events)
	if err != nil {
		return err
	}
	return durable(ctx)
}

func (h *gatedHistory) EnqueueHistory(_ context.Context, events []schemas.ScoredEvent) (func(context.Context) error, error) {
	h.mu.Lock()
	h.enqueued = append(h.enqueued, events...)
	h.mu.Unlock()
	return func(ctx context.Context) error {
		select {
		case <-h.gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// failingOnce fails its first PublishDecisions, then keeps the decisions.
type failingOnce struct {
	ds     []*schemas.Decision
	failed bool
}

func (p *failingOnce) PublishDecisions(_ context.Context, ds []*schemas.Decision) error {
	if !p.failed {
		p.failed = true
		return errors.New("broker unavailable")
	}
	p.ds = append(p.ds, ds...)
	return nil
}

// TestPublishDoesNotWaitForHistory: Publish stores the decisions while the
// history insert has not completed, and its durable waits for the insert;
// a Publish retried after the broker failed enqueues the rows once.
func TestPublishDoesNotWaitForHistory(t *testing.T) {
	e := newGeoEngine(t)
	history := &gatedHistory{gate: make(chan struct{})}
	pub := &failingOnce{}
	e.cfg.Recorder = Recorder{Publisher: pub, History: history}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	msgs := make([]Message, 5)
	for i := range msgs {
		msgs[i] = Message{Offset: int64(i), Value: fmt.Appendf(nil, `{"event_id":"p-%d","occurred_at":%q,"user_id":"u%d","outcome":"success","ip":"81.2.69.160"}`,
			i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i)}
	}
	b := e.Prepare(msgs)
	if len(b.Scored) != len(msgs) {
		t.Fatalf("%d of %d events scored: %v", len(b.Scored), len(msgs), b.Rejected)
	}
	ctx := context.Background()
	if _, err := e.Publish(ctx, b); err == nil {
		t.Fatal("Publish succeeded although the broker failed")
	}
	durable, err := e.Publish(ctx, b)
	if err != nil {
		t.Fatalf("Publish after the broker came back: %v", err)
	}
	if len(pub.ds) != len(msgs) {
		t.Errorf("%d decisions published while the history insert is pending, want %d", len(pub.ds), len(msgs))
	}
	if len(history.enqueued) != len(msgs) {
		t.Errorf("%d history rows enqueued after a retried Publish, want %d (once each)", len(history.enqueued), len(msgs))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := durable(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("durable returned %v before the insert completed", err)
	}
	close(history.gate)
	if err := durable(ctx); err != nil {
		t.Errorf("durable after the insert: %v", err)
	}
}
