package kafkastream

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// publishingProcessor publishes a batch at once in Publish and makes its
// history durable when the gate opens, for the batches from offset gateAt
// on (history stuck from there); Record does both, waiting the same way.
type publishingProcessor struct {
	gatedProcessor
	published map[int64]bool // first offsets of published batches
}

func (p *publishingProcessor) Publish(ctx context.Context, b *engine.Batch) (func(context.Context) error, error) {
	gated := false
	p.mu.Lock()
	for _, r := range b.Rejected {
		p.published[r.Message.Offset] = true
		gated = gated || p.last[r.Message.Offset] >= p.gateAt
	}
	p.mu.Unlock()
	return func(ctx context.Context) error {
		if gated {
			select {
			case <-p.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, nil
}

func (p *publishingProcessor) publishedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published)
}

// TestPublishBeforeHistory: with kafka.publish_before_history the
// decisions of every batch are published while the history of one is not
// inserted, and no offset is committed past that batch until it is;
// without it (the default) the stream records through Record and the
// batches after the stuck one are not published.
func TestPublishBeforeHistory(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	const n, maxBatch, inFlight, gateAt = 200, 10, 2, 50
	for _, before := range []bool{true, false} {
		t.Run("publish_before_history="+strconv.FormatBool(before), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			name := testkit.Name("publish")
			stream := numberedStream(ctx, t, name, n, Config{Brokers: brokers, Partitions: 1, MaxBatch: maxBatch, MaxInFlight: inFlight, PublishBeforeHistory: before})

			p := &publishingProcessor{gatedProcessor: gatedProcessor{last: map[int64]int64{}, gateAt: gateAt, gate: make(chan struct{})}, published: map[int64]bool{}}
			stop := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, p) })

			// Give the stream time to run ahead of the stuck history.
			deadline := time.Now().Add(time.Minute)
			for p.publishedCount()*maxBatch < n && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			prepared, _ := p.snapshot()
			published := p.publishedCount()
			if before && published != len(prepared) {
				t.Errorf("%d of %d scored batches published while a history insert is stuck, want all", published, len(prepared))
			}
			if before && len(prepared)*maxBatch < n {
				t.Errorf("%d batches scored, want every message's (%d) although a history insert is stuck", len(prepared), n/maxBatch)
			}
			if !before && published != 0 {
				t.Errorf("%d batches published through Publish without publish_before_history", published)
			}
			if got := committedOffset(ctx, t, brokers, name, name+"-events"); got > gateAt {
				t.Errorf("committed offset %d is past offset %d, whose history is not inserted", got, gateAt)
			}

			close(p.gate)
			waitCommitted(ctx, t, brokers, name, n, "not everything was committed once the history was inserted")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
