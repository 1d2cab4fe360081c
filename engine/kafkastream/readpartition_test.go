package kafkastream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
)

// TestReadPartition: the consumer's and the followers' read loop hands
// over every message of another process in order with its key, value and
// headers, passes over
// this process's own (HeaderInstance) calling own instead, and, asked
// for an offset the partition does not hold, fails with
// OffsetOutOfRange and goes on from the first offset kept.
func TestReadPartition(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	s := newStreamWithTopics(ctx, t, cfg)
	other := []kafka.Header{{Key: HeaderInstance, Value: []byte("another-process")}}
	var msgs []kafka.Message
	for i := range 6 {
		headers := other
		if i%3 == 1 {
			headers = s.instance
		}
		msgs = append(msgs, kafka.Message{Key: []byte("alice"), Value: fmt.Appendf(nil, "m%d", i), Headers: headers})
	}
	w := s.clients.Writer(cfg.DLQTopic, WriterOptions{BatchSize: len(msgs), BatchTimeout: time.Millisecond})
	defer w.Close()
	testkit.Produce(ctx, t, w, msgs...)
	partition := (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte("alice")}, 0, 1)

	offset, err := s.readPartition(ctx, cfg.DLQTopic, partition, 0, 1_000_000, nil, func([]kafka.Message) { t.Error("a message read past the end") })
	if !errors.Is(err, kafka.OffsetOutOfRange) || offset != kafka.FirstOffset {
		t.Fatalf("reading past the end: offset %d, %v; want kafka.FirstOffset and OffsetOutOfRange", offset, err)
	}

	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var got []string
	owns := 0
	_, err = s.readPartition(rctx, cfg.DLQTopic, partition, 0, offset, func() { owns++ }, func(msgs []kafka.Message) {
		for _, m := range msgs {
			if string(m.Key) != "alice" || len(m.Headers) != 1 || string(m.Headers[0].Value) != "another-process" {
				t.Errorf("message %q: key %q, headers %v", m.Value, m.Key, m.Headers)
			}
			got = append(got, string(m.Value))
		}
		if len(got) >= 4 {
			stop()
		}
	})
	if rctx.Err() == nil {
		t.Fatalf("read stopped before the messages: %v", err)
	}
	if fmt.Sprint(got) != "[m0 m2 m3 m5]" || owns != 2 {
		t.Errorf("handed over %v and %d own, want [m0 m2 m3 m5] and 2 own", got, owns)
	}
}
