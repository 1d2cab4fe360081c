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

// request sends one produce request, retrying temporary errors up to
// maxAttempts times (engine.Retry's backoff).
func (p *batchProducer) request(ctx context.Context, partition int, msgs []kafka.Message, indexes []int32) error {
	var err error
	retryErr := engine.Retry(ctx, engine.Backoff{Min: produceBackoffMin, Max: produceBackoffMax}, func(attempt int) error {
		var res *kafka.ProduceResponse
		res, err = p.client.Produce(ctx, &kafka.ProduceRequest{
			Topic: p.topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: &produceRecords{msgs: msgs, indexes: indexes},
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil || !retriable(err) || attempt >= p.maxAttempts {
			return nil // done: err says how
		}
		return err
	})
	if retryErr != nil { // ctx ended between attempts
		err = errors.Join(retryErr, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("producing %d messages to %s/%d: %w", len(indexes), p.topic, partition, err)
	}
	return nil
}

// partitions returns the topic's partition count, from the Transport's
// metadata cache.
func (p *batchProducer) partitions(ctx context.Context) (int, error) {
	resp, err := p.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{p.topic}})
	if err != nil {
		return 0, fmt.Errorf("looking up the partitions of %s: %w", p.topic, err)
	}
	for _, t := range resp.Topics {
		if t.Name != p.topic {
			continue
		}
		if t.Error != nil {
			return 0, fmt.Errorf("looking up the partitions of %s: %w", p.topic, t.Error)
		}
		if len(t.Partitions) > 0 {
			return len(t.Partitions), nil
		}
	}
	return 0, fmt.Errorf("looking up the partitions of %s: %w", p.topic, kafka.UnknownTopicOrPartition)
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
