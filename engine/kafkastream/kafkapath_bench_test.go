package kafkastream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// BenchmarkKafkaPath is what the Kafka path costs per event on the test
// broker, without the engine core (issue 21 point 3): b.N events on a
// six-partition events topic are consumed by Stream.Run in a consumer
// group, each turned by a stand-in for the engine into a decision made
// beforehand (every tenth with a lock) for the event's user and its address side
// (PublishAddress), the decisions encoded, signed, published and the
// offsets committed through engine.Recorder as serve does, while
// FollowDecisions reads every decision back and ShareAddresses and
// FollowAddresses publish and follow the address sides. It is serve
// without history minus Engine.Prepare, so the figures add to the core's
// (BenchmarkPipeline in engine).
//
// cpu-ns/op is this process's CPU time per event from Run's start until
// every offset is committed and the follower has read every lock
// decision back (the group join's idle wait included, its CPU is a few
// milliseconds); broker-cpu-ns/op the broker's, when it runs on this
// machine. Run it with a fixed count on the real broker, for example
//
//	KAFKA_BROKERS=127.0.0.1:9092 go test -run '^$' -bench KafkaPath -benchtime 200000x -count 3 ./engine/kafkastream
//
// ns/op includes the group join (seconds on a real broker) and means
// little.
func BenchmarkKafkaPath(b *testing.B) {
	ctx, brokers, _ := testkit.KafkaContext(b, 10*time.Minute)
	cfg := Config{
		Brokers: brokers, GroupID: testkit.Name("group"), EventsTopic: testkit.Name("events"), DecisionsTopic: testkit.Name("decisions"),
		DLQTopic: testkit.Name("dlq"), AddressesTopic: testkit.Name("addresses"), InstancesTopic: testkit.Name("instances"),
		Partitions: 6, ShareAddresses: true, DecisionKeys: testDecisionKeys, Logger: slog.New(slog.DiscardHandler),
	}
	s := newStreamWithTopics(ctx, b, cfg)
	defer deleteTopics(s, cfg.EventsTopic, cfg.DecisionsTopic, cfg.DLQTopic, cfg.AddressesTopic, cfg.InstancesTopic)
	fillEvents(ctx, b, s, b.N)
	proc := newStandInProcessor(s)

	broker := brokerProcess(brokers)
	brokerStart, _ := proccpu.Of(broker)
	start, _ := proccpu.Self()
	b.ReportAllocs()
	b.ResetTimer()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 4)
	for _, run := range []func(context.Context) error{
		func(ctx context.Context) error { return s.Run(ctx, proc) },
		func(ctx context.Context) error {
			return s.FollowDecisions(ctx, time.Now(), func(*schemas.Decision) error { return nil })
		},
		s.ShareAddresses,
		func(ctx context.Context) error {
			return s.FollowAddresses(ctx, time.Now(), func(*schemas.AddressAttempt) {})
		},
	} {
		go func() {
			if err := run(runCtx); err != nil {
				b.Error(err)
			}
			done <- struct{}{}
		}()
	}
	admin := s.clients.Client(10 * time.Second)
	finished := func() bool {
		return proc.prepared.Load() >= int64(b.N) && committed(ctx, admin, cfg) >= int64(b.N) && s.metrics.OwnDecisionsSkipped.Load() >= int64(b.N)
	}
	for !finished() {
		select {
		case <-ctx.Done():
			b.Fatalf("committed %d of %d events, followed %d decisions", committed(context.Background(), admin, cfg), b.N, s.metrics.OwnDecisionsSkipped.Load())
		case <-time.After(20 * time.Millisecond):
		}
	}
	b.StopTimer()
	used, _ := proccpu.Self()
	brokerUsed, brokerErr := proccpu.Of(broker)
	stop()
	for range 4 {
		<-done
	}
	b.ReportMetric(float64(used-start)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/float64(s.metrics.BatchesTotal.Load()), "events/batch")
	b.ReportMetric(float64(b.N)/float64(s.metrics.CommitsTotal.Load()), "events/commit")
	if broker > 0 && brokerErr == nil {
		b.ReportMetric(float64(brokerUsed-brokerStart)/float64(b.N), "broker-cpu-ns/op")
	}
}

// standInProcessor stands in for the engine in BenchmarkKafkaPath: its
// Prepare hands out decisions made beforehand and queues each event's
// address side, so that what is measured is the Kafka path alone.
type standInProcessor struct {
	stream    *Stream
	recorder  engine.Recorder
	decisions []schemas.Decision
	attempt   schemas.AddressAttempt
	prepared  atomic.Int64 // events prepared
}

func newStandInProcessor(s *Stream) *standInProcessor {
	p := &standInProcessor{stream: s, recorder: engine.Recorder{Publisher: s}, decisions: make([]schemas.Decision, 1000)}
	at := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	for i := range p.decisions {
		d := schemas.Decision{
			EventID: fmt.Sprintf("evt-%08d-4f6e-9a51-%012d", i, i),
			IP:      fmt.Sprintf("198.51.100.%d", i%250), OccurredAt: at, DecidedAt: at.Add(3 * time.Millisecond),
			Score: 12, Decision: schemas.VerdictAllow, RulesVersion: "sha256:5d41402abc4b2a76",
			Reasons: []schemas.Reason{{Rule: "new_device", Weight: 8, Detail: "device not seen for this user in 30 days"}, {Rule: "new_country", Weight: 4}},
		}
		if i%10 == 0 {
			d.Score, d.Decision = 90, schemas.VerdictLockout
			d.Lock = &schemas.Lock{Scope: schemas.ScopeUser, Key: d.UserID, Until: at.Add(10 * time.Minute), Rule: "brute_force"}
		}
		p.decisions[i] = d
	}
	p.attempt = schemas.AddressAttempt{At: at, Failure: true, UserHash: 42, Addr: netip.MustParseAddr("203.0.113.99")}
	return p
}

// Prepare returns the batch's decisions, as the engine's Prepare does
// after scoring: one per event, for the event's user (the message key),
// so that they go to the partition of the same number as the events'.
func (p *standInProcessor) Prepare(msgs []engine.Message) *engine.Batch {
	b := &engine.Batch{Scored: make([]schemas.ScoredEvent, len(msgs))}
	ds := make([]schemas.Decision, len(msgs))
	for i, m := range msgs {
		d := &ds[i]
		*d = p.decisions[m.Offset%int64(len(p.decisions))]
		d.UserID = string(m.Key)
		if d.Lock != nil {
			d.Lock = &schemas.Lock{Scope: d.Lock.Scope, Key: d.UserID, Until: d.Lock.Until, Rule: d.Lock.Rule}
		}
		b.Scored[i] = schemas.ScoredEvent{Decision: d, Position: schemas.StreamPosition{Kafka: true, Partition: int32(m.Partition), Offset: m.Offset}}
		p.stream.PublishAddress(&p.attempt)
	}
	p.prepared.Add(int64(len(msgs)))
	return b
}

// Record publishes the batch's decisions, as the engine's Record does
// without history.
func (p *standInProcessor) Record(ctx context.Context, b *engine.Batch) error {
	return p.recorder.Record(ctx, b.Scored)
}

// fillEvents publishes n events of a realistic size (about 330 bytes of
// JSON, keyed by user_id) to the events topic.
func fillEvents(ctx context.Context, b *testing.B, s *Stream, n int) {
	b.Helper()
	w := s.clients.Writer(s.cfg.EventsTopic, WriterOptions{BatchSize: 1000, BatchTimeout: time.Millisecond})
	defer w.Close()
	msgs := make([]kafka.Message, 0, 1000)
	for i := 0; i < n; {
		msgs = msgs[:0]
		for ; i < n && len(msgs) < cap(msgs); i++ {
			user := "user-" + strconv.Itoa(i%200_000)
			value := fmt.Sprintf(`{"event_id":"evt-%012d-4f6e-9a51-7c2d3b1e","occurred_at":"2026-12-04T23:00:%02d.%03dZ","user_id":%q,"outcome":"failure","ip":"198.51.100.%d","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","device_id":"dev-%08x","failure_reason":"bad_password","auth_method":"password"}`,
				i, i%60, i%1000, user, i%250, i)
			msgs = append(msgs, kafka.Message{Key: []byte(user), Value: []byte(value)})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatalf("filling the events topic: %v", err)
		}
	}
}

// committed is the sum of the group's committed offsets on the events
// topic's partitions (0 when the broker does not answer).
func committed(ctx context.Context, admin *kafka.Client, cfg Config) int64 {
	parts := make([]int, cfg.Partitions)
	for i := range parts {
		parts[i] = i
	}
	resp, err := admin.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: map[string][]int{cfg.EventsTopic: parts}})
	if err != nil || resp.Error != nil {
		return 0
	}
	var sum int64
	for _, p := range resp.Topics[cfg.EventsTopic] {
		sum += max(p.CommittedOffset, 0)
	}
	return sum
}

// brokerProcess is the pid of the broker when it listens on this machine
// (0 otherwise).
func brokerProcess(brokers []string) int {
	_, port, err := net.SplitHostPort(brokers[0])
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	pid, err := proccpu.ListeningOn(n)
	if err != nil {
		return 0
	}
	return pid
}

// deleteTopics deletes the benchmark's topics.
func deleteTopics(s *Stream, topics ...string) {
	_, _ = s.clients.Client(10*time.Second).DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: topics})
}
