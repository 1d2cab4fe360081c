package engine

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// countingPublisher counts PublishDecisions calls and the decisions they
// carried.
type countingPublisher struct {
	mu               sync.Mutex
	calls, decisions int
	// endedFails makes a publish under an ended context fail, as a
	// broker client's does.
	endedFails bool
}

func (p *countingPublisher) PublishDecisions(ctx context.Context, ds []*schemas.Decision) error {
	if p.endedFails && ctx.Err() != nil {
		return ctx.Err()
	}
	p.mu.Lock()
	p.calls++
	p.decisions += len(ds)
	p.mu.Unlock()
	return nil
}

// TestRecorderLingers: scores submitted a fraction of a millisecond apart,
// as a busy HTTP API submits them, are recorded together (RecordLinger),
// not one publish each; and every one is published.
func TestRecorderLingers(t *testing.T) {
	pub := &countingPublisher{}
	eng, _ := newTestEngine(t, "", Config{Recorder: Recorder{Publisher: pub}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.RunRecorder(ctx, time.Second) }()
	const n = 20
	for i := range n {
		place, err := eng.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		place.Submit(schemas.ScoredEvent{Decision: &schemas.Decision{EventID: "e" + strconv.Itoa(i), UserID: "alice", Decision: schemas.VerdictAllow}})
		time.Sleep(RecordLinger / 25)
	}
	for eng.Backlog() > 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if pub.decisions != n {
		t.Errorf("%d decisions published, want %d", pub.decisions, n)
	}
	// 20 submissions over about 4 ms: one or two records with the
	// linger, twenty without it (each taken as soon as it comes).
	if pub.calls > n/2 {
		t.Errorf("%d publishes for %d scores submitted within ~%s: the recorder did not gather them", pub.calls, n, RecordLinger)
	}
}

// TestRecorderRecordsWhatItGatheredAtShutdown: a score taken from the queue
// just before shutdown, while the recorder gathers more (RecordLinger), is
// recorded in the drain like the rest, not tried once under the ended
// context and dropped.
func TestRecorderRecordsWhatItGatheredAtShutdown(t *testing.T) {
	for round := range 20 {
		pub := &countingPublisher{endedFails: true}
		eng, _ := newTestEngine(t, "", Config{Recorder: Recorder{Publisher: pub}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- eng.RunRecorder(ctx, time.Second) }()
		place, err := eng.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		place.Submit(schemas.ScoredEvent{Decision: &schemas.Decision{EventID: "e" + strconv.Itoa(round), UserID: "alice", Decision: schemas.VerdictAllow}})
		for eng.Backlog() > 0 { // taken: the recorder is gathering for RecordLinger
			runtime.Gosched()
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		pub.mu.Lock()
		got := pub.decisions
		pub.mu.Unlock()
		if got != 1 {
			t.Fatalf("round %d: %d decisions published, want 1: the score gathered at shutdown was dropped", round, got)
		}
	}
}
