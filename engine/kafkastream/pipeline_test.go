package kafkastream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// gatedProcessor records what the stream asks of it; Record of the batch
// holding offset gateAt waits for the gate to open.
type gatedProcessor struct {
	mu       sync.Mutex
	prepared []int64 // first offset of each prepared batch, in order
	recorded []int64 // first offset of each recorded batch, in order
	last     map[int64]int64
	gateAt   int64
	gate     chan struct{}
	fail     bool // with fail, the gated batch's Record fails until ctx ends
}

func (p *gatedProcessor) Prepare(msgs []engine.Message) *engine.Batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	first, last := msgs[0].Offset, msgs[len(msgs)-1].Offset
	p.prepared = append(p.prepared, first)
	p.last[first] = last
	// The batch is identified by its offsets in a Rejected entry's message.
	return &engine.Batch{Rejected: []engine.Rejected{{Message: engine.Message{Offset: first}}}}
}

// Record records every batch in b: the stream may join consecutive
// batches into one record.
func (p *gatedProcessor) Record(ctx context.Context, b *engine.Batch) error {
	gated := false
	p.mu.Lock()
	for _, r := range b.Rejected {
		first := r.Message.Offset
		gated = gated || first <= p.gateAt && p.gateAt <= p.last[first]
	}
	p.mu.Unlock()
	if gated {
		if p.fail {
			<-ctx.Done()
			return errors.New("history unavailable")
		}
		select {
		case <-p.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	for _, r := range b.Rejected {
		p.recorded = append(p.recorded, r.Message.Offset)
	}
	p.mu.Unlock()
	return nil
}

func (p *gatedProcessor) snapshot() (prepared, recorded []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.prepared...), append([]int64(nil), p.recorded...)
}

// TestPipelinedBatches: scoring runs ahead of recording by at most
// max_in_flight batches per partition, batches are recorded in order, and
// no offset is committed past a batch that is not recorded.
func TestPipelinedBatches(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	const n, maxBatch, inFlight = 200, 10, 3
	for _, fail := range []bool{false, true} {
		t.Run("fail="+strconv.FormatBool(fail), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			name := testkit.Name("pipeline")
			stream := numberedStream(ctx, t, name, n, Config{Brokers: brokers, Partitions: 1, MaxBatch: maxBatch, MaxInFlight: inFlight})

			// The gate is on a batch past the first, so one commit comes
			// before it.
			p := &gatedProcessor{last: map[int64]int64{}, gateAt: 2 * maxBatch, gate: make(chan struct{}), fail: fail}
			stop := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, p) })

			// While the gated batch is being recorded, the batches after it
			// are scored — but no more than max_in_flight in all, counting
			// the one being recorded (and any joined with it).
			deadline := time.Now().Add(time.Minute)
			var prepared, recorded []int64
			for {
				prepared, recorded = p.snapshot()
				gatedIdx := -1
				p.mu.Lock()
				for i, first := range prepared {
					if first <= p.gateAt && p.gateAt <= p.last[first] {
						gatedIdx = i
					}
				}
				p.mu.Unlock()
				// The recorder may have joined the batches before the gated
				// one into its record: count what is scored and not recorded.
				if gatedIdx >= 0 && len(prepared)-len(recorded) >= inFlight {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("scoring did not run ahead of the gated batch: prepared %v, recorded %v", prepared, recorded)
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // room to overrun, if it would
			prepared, recorded = p.snapshot()
			if ahead := len(prepared) - len(recorded); ahead != inFlight {
				t.Errorf("%d batches scored and not recorded while one is stuck, want max_in_flight = %d (prepared %v, recorded %v)", ahead, inFlight, prepared, recorded)
			}
			gateStart := prepared[len(recorded)]
			committed := committedOffset(ctx, t, brokers, name, name+"-events")
			if committed > gateStart {
				t.Fatalf("committed offset %d is past the batch at %d that is not recorded", committed, gateStart)
			}

			if !fail {
				close(p.gate)
				waitCommitted(ctx, t, brokers, name, n, "not everything was committed")
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			prepared, recorded = p.snapshot()
			if fail {
				// The stuck batch never got recorded: it and every batch
				// after it stay uncommitted for redelivery.
				// (No commit at all, -1, means a restart reads from 0.)
				if got := max(committedOffset(ctx, t, brokers, name, name+"-events"), 0); got != gateStart {
					t.Errorf("after shutdown the committed offset is %d, want %d: the start of the batch that failed", got, gateStart)
				}
				for _, r := range recorded {
					if r >= gateStart {
						t.Errorf("batch at %d recorded after the stuck batch at %d", r, gateStart)
					}
				}
				return
			}
			if fmt.Sprint(recorded) != fmt.Sprint(prepared) {
				t.Errorf("recorded in another order than scored:\nprepared %v\nrecorded %v", prepared, recorded)
			}
		})
	}
}

// numberedStream returns a Stream for a processor test: in group name,
// on fresh topics name-events, name-decisions and name-dlq, tuned as
// tune (its brokers, partitions, batches), logging errors only, its
// events topic holding the n messages "0" to "n-1" spread round robin
// over the partitions.
func numberedStream(ctx context.Context, t *testing.T, name string, n int, tune Config) *Stream {
	t.Helper()
	cfg := tune
	cfg.GroupID, cfg.EventsTopic, cfg.DecisionsTopic, cfg.DLQTopic = name, name+"-events", name+"-decisions", name+"-dlq"
	cfg.DrainTimeout, cfg.DecisionKeys = time.Second, testDecisionKeys
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	stream := newStreamWithTopics(ctx, t, cfg)
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.EventsTopic, BatchSize: n, RequiredAcks: kafka.RequireAll, Balancer: &kafka.RoundRobin{}}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: []byte(strconv.Itoa(i))}
	}
	testkit.Produce(ctx, t, w, msgs...)
	return stream
}

// waitCommitted waits until group name has committed offset n of
// partition 0 of name-events, failing the test with failure when ctx
// ends first.
func waitCommitted(ctx context.Context, t *testing.T, brokers []string, name string, n int64, failure string) {
	t.Helper()
	for committedOffset(ctx, t, brokers, name, name+"-events") < n {
		if ctx.Err() != nil {
			t.Fatal(failure)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committedOffset is the group's committed offset of partition 0 (-1:
// none yet).
func committedOffset(ctx context.Context, t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Partition == 0 {
			return p.CommittedOffset
		}
	}
	return -1
}
