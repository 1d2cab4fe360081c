package kafkastream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// assignProcessor is an engine.PartitionAssignee whose Assigned fails
// the first time for each partition (a ClickHouse that does not answer
// yet), and which records what it was asked in which order.
type assignProcessor struct {
	mu       sync.Mutex
	attempts map[int]int
	ready    map[int]bool
	early    []string        // messages prepared before their partition was caught up
	offsets  map[int][]int64 // prepared offsets per partition, in order
}

func (p *assignProcessor) Assigned(_ context.Context, partition int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts[partition]++
	if p.attempts[partition] == 1 {
		return errors.New("history not reachable yet")
	}
	p.ready[partition] = true
	return nil
}

func (p *assignProcessor) Prepare(msgs []engine.Message) *engine.Batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		if !p.ready[m.Partition] {
			p.early = append(p.early, fmt.Sprintf("partition %d offset %d", m.Partition, m.Offset))
		}
		p.offsets[m.Partition] = append(p.offsets[m.Partition], m.Offset)
	}
	return &engine.Batch{}
}

func (p *assignProcessor) Record(context.Context, *engine.Batch) error { return nil }

func (p *assignProcessor) prepared() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, o := range p.offsets {
		n += len(o)
	}
	return n
}

// TestAssignedBeforeFirstMessage: the stream tells a PartitionAssignee of
// each partition it is given before it hands it any of the partition's
// messages, retries a failed Assigned with the partition's messages
// waiting, and then hands them over in offset order.
func TestAssignedBeforeFirstMessage(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 2*time.Minute)
	const n, partitions = 300, 3
	stream := numberedStream(ctx, t, testkit.Name("assign"), n, Config{Brokers: brokers, Partitions: partitions, MaxBatch: 20})

	p := &assignProcessor{attempts: map[int]int{}, ready: map[int]bool{}, offsets: map[int][]int64{}}
	stop := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, p) })
	for p.prepared() < n {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d messages prepared", p.prepared(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.early) > 0 {
		t.Errorf("%d messages prepared before their partition was caught up, e.g. %s", len(p.early), p.early[0])
	}
	for part := range partitions {
		if p.attempts[part] != 2 {
			t.Errorf("partition %d: Assigned called %d times, want 2 (one failure, retried)", part, p.attempts[part])
		}
		for i, o := range p.offsets[part] {
			if o != int64(i) {
				t.Errorf("partition %d: prepared offsets %v, want 0, 1, 2, ... in order", part, p.offsets[part])
				break
			}
		}
	}
}
