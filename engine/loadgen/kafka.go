package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// StartBroker starts an in-process Kafka-protocol broker (kfake) that
// creates topics on first use with partitions partitions, and returns its
// addresses and the function that stops it.
func StartBroker(partitions int) (addrs []string, stop func(), err error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		return nil, nil, fmt.Errorf("starting the in-process broker: %w", err)
	}
	return cluster.ListenAddrs(), sync.OnceFunc(cluster.Close), nil
}

// NewEventWriter returns a writer that publishes events to topic keyed
// by user_id (kafkastream.Clients.Writer), in batches of 1000, creating
// the topic on first use where the broker allows it.
func NewEventWriter(k *kafkastream.Clients, topic string) *kafka.Writer {
	return k.Writer(topic, kafkastream.WriterOptions{BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, AutoCreate: true})
}

// userIDOf extracts user_id for the message key without a full decode; a
// line without one is still published (the engine dead-letters it).
func userIDOf(line []byte) []byte {
	var probe struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(line, &probe) == nil && probe.UserID != "" {
		return []byte(probe.UserID)
	}
	return nil
}

// ProduceLines publishes every non-empty line of in, in batches, and calls
// progress with the bytes read so far.
func ProduceLines(ctx context.Context, w *kafka.Writer, in io.Reader, progress func(events, bytes int64)) (int64, int64, error) {
	r := bufio.NewReaderSize(in, 1<<20)
	lines := offline.NewLineReader(r, 8<<20)
	batch := make([]kafka.Message, 0, 1000)
	var n, read int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			if errors.Is(err, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("publishing to %s: %w (create the topic, or set kafka.create_topics: true to let produce and serve create it)", w.Topic, err)
			}
			return fmt.Errorf("publishing to %s: %w", w.Topic, err)
		}
		n += int64(len(batch))
		batch = batch[:0]
		progress(n, read)
		return nil
	}
	for {
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, read, err
		}
		read += int64(len(line))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		value := bytes.Clone(line)
		batch = append(batch, kafka.Message{Key: userIDOf(value), Value: value})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, read, err
			}
		}
	}
	return n, read, flush()
}

// EncodeEvent appends one event as a JSON line.
func EncodeEvent(buf []byte, ev *schemas.LoginEvent) []byte {
	b, _ := json.Marshal(ev)
	buf = append(buf, b...)
	return append(buf, '\n')
}
