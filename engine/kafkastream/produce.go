package kafkastream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/segmentio/kafka-go"
)

// batchProducer publishes messages the stream has already gathered into
// a batch (the decisions of a record) to one topic: one produce request
// per partition the batch touches (more when it is over produceMaxBytes),
// with kafka-go's Client.Produce over the stream's Transport, waiting for
// all replicas. kafka-go's Writer did the same work per message: it asks
// its metadata cache for the topic's partitions for every message,
// allocates room for BatchSize messages for every batch however few it
// holds, and starts a goroutine and a timer per batch, holding a partial
// one for BatchTimeout: 1.2 µs and 520 bytes per event more on the
// decisions' path (BenchmarkKafkaPath, docs/performance.md).
//
// The messages of one partition are written in order, each request
// retried up to maxAttempts times with backoff while its error is
// temporary (a leader moving, a broker restarting), as the Writer did.
type batchProducer struct {
	client      *kafka.Client
	topic       string
	balancer    kafka.Balancer
	maxAttempts int
}

// produceMaxBytes bounds one produce request's messages, estimated as
// the Writer does (key, value, headers and a record's overhead): the
// broker's default message.max.bytes is about 1 MiB.
const produceMaxBytes = 1 << 20

// Backoff between the attempts of a produce request: the Writer's.
const (
	produceBackoffMin = 100 * time.Millisecond
	produceBackoffMax = time.Second
)

// metadataAttempts bounds the look-ups of a topic's partitions: kafka-go's
// Writer's default attempts, whose backoff (100 ms doubling to 1 s: 6.5 s
// in all) spans one refresh of the Transport's metadata cache.
const metadataAttempts = 10

// produce writes msgs, keyed by the balancer, and returns once every
// partition's request is acknowledged. On failure it returns
// kafka.WriteErrors, with the error of each message that was not written
// (nil for those that were).
func (p *batchProducer) produce(ctx context.Context, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	n, err := p.partitions(ctx)
	if err != nil {
		return err
	}
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	byPartition := make(map[int][]int32, 1)
	for i := range msgs {
		part := p.balancer.Balance(msgs[i], ids...)
		byPartition[part] = append(byPartition[part], int32(i))
	}
	var (
		mu   sync.Mutex
		werr kafka.WriteErrors
	)
	failed := func(indexes []int32, err error) {
		mu.Lock()
		defer mu.Unlock()
		if werr == nil {
			werr = make(kafka.WriteErrors, len(msgs))
		}
		for _, i := range indexes {
			werr[i] = err
		}
	}
	// A record's decisions are the users of one events partition, so
	// most batches touch one partition: that one is written here, any
	// other concurrently.
	var wg sync.WaitGroup
	inline := -1
	for part, indexes := range byPartition {
		if inline < 0 {
			inline = part
			continue
		}
		wg.Go(func() { p.producePartition(ctx, part, msgs, indexes, failed) })
	}
	p.producePartition(ctx, inline, msgs, byPartition[inline], failed)
	wg.Wait()
	if werr != nil {
		return werr
	}
	return nil
}

// producePartition writes the messages of one partition in order, in
// requests of at most produceMaxBytes; at the first request that fails
// for good, it reports it and every later one as failed.
func (p *batchProducer) producePartition(ctx context.Context, partition int, msgs []kafka.Message, indexes []int32, failed func([]int32, error)) {
	for len(indexes) > 0 {
		size, n := 0, 0
		for n < len(indexes) {
			s := messageSize(&msgs[indexes[n]])
			if n > 0 && size+s > produceMaxBytes {
				break
			}
			size += s
			n++
		}
		if err := p.request(ctx, partition, msgs, indexes[:n]); err != nil {
			failed(indexes, err)
			return
		}
		indexes = indexes[n:]
	}
}

// request sends one produce request, retrying temporary errors (see
// attempt).
func (p *batchProducer) request(ctx context.Context, partition int, msgs []kafka.Message, indexes []int32) error {
	err := p.attempt(ctx, p.maxAttempts, func() error {
		res, err := p.client.Produce(ctx, &kafka.ProduceRequest{
			Topic: p.topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: &produceRecords{msgs: msgs, indexes: indexes},
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("producing %d messages to %s/%d: %w", len(indexes), p.topic, partition, err)
	}
	return nil
}

// attempt runs call until it succeeds, fails for good (not retriable) or
// has run attempts times, with engine.Retry's backoff between, and
// returns its last error (joined with the context's when ctx ended
// between attempts).
func (p *batchProducer) attempt(ctx context.Context, attempts int, call func() error) error {
	var err error
	retryErr := engine.Retry(ctx, engine.Backoff{Min: produceBackoffMin, Max: produceBackoffMax}, func(attempt int) error {
		err = call()
		if err == nil || !retriable(err) || attempt >= attempts {
			return nil // done: err says how
		}
		return err
	})
	if retryErr != nil {
		err = errors.Join(retryErr, ctx.Err())
	}
	return err
}

// partitions returns the topic's partition count, from the Transport's
// metadata cache. A topic whose metadata is not there yet (just created,
// its partitions' leaders still being elected) is asked again for
// metadataAttempts: the cache is refreshed every 6 s (the Transport's
// MetadataTTL), so a shorter try would see the same answer each time.
func (p *batchProducer) partitions(ctx context.Context) (int, error) {
	n := 0
	err := p.attempt(ctx, metadataAttempts, func() error {
		resp, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			if t.Name != p.topic {
				continue
			}
			if t.Error != nil {
				return t.Error
			}
			if n = len(t.Partitions); n > 0 {
				return nil
			}
		}
		return kafka.UnknownTopicOrPartition
	})
	if err != nil {
		return 0, fmt.Errorf("looking up the partitions of %s: %w", p.topic, err)
	}
	return n, nil
}

// retriable reports whether a produce error may pass: the Writer's rule.
func retriable(err error) bool {
	var temporary interface{ Temporary() bool }
	if errors.As(err, &temporary) && temporary.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// messageSize estimates a message's size in a record batch, as the
// Writer does for its BatchBytes.
func messageSize(m *kafka.Message) int {
	size := 22 + len(m.Key) + len(m.Value) // record overhead: length, attributes, deltas, varints
	for _, h := range m.Headers {
		size += 10 + len(h.Key) + len(h.Value)
	}
	return size
}

// produceRecords reads some of msgs, by index, as the records of a
// produce request, reusing one record and its readers.
type produceRecords struct {
	msgs       []kafka.Message
	indexes    []int32
	next       int
	record     kafka.Record
	key, value bytesReadCloser
}

// ReadRecord implements kafka.RecordReader.
func (r *produceRecords) ReadRecord() (*kafka.Record, error) {
	if r.next >= len(r.indexes) {
		return nil, io.EOF
	}
	m := &r.msgs[r.indexes[r.next]]
	r.next++
	r.record = kafka.Record{Time: m.Time, Headers: m.Headers}
	if m.Key != nil {
		r.key.Reset(m.Key)
		r.record.Key = &r.key
	}
	if m.Value != nil {
		r.value.Reset(m.Value)
		r.record.Value = &r.value
	}
	return &r.record, nil
}

// bytesReadCloser is a bytes.Reader that is a kafka.Bytes.
type bytesReadCloser struct{ bytes.Reader }

// Close implements io.Closer.
func (*bytesReadCloser) Close() error { return nil }
