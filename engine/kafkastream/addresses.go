package kafkastream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// Shared addresses (docs/scaling.md, "Address signals across
// instances"): every instance publishes the address side of the attempts
// it scores (schemas.AddressAttempt), in signed batches every
// AddressInterval, to the addresses topic; every instance follows every
// partition of that topic and counts the other instances' attempts in
// its address, network and ASN state. Users are disjoint across
// instances, so each attempt is counted once everywhere, and an
// address's windows and distinct users are the cluster's, a publish
// interval and a fetch later.

// maxAddressesPerMessage bounds the attempts in one message: 20,000 of
// schemas.AddressAttemptBytes are 740 KB, under the broker's default
// message.max.bytes (1 MB) and the writer's batch bytes.
const maxAddressesPerMessage = 20_000

// addressQueue holds the attempts scored here and not yet published.
type addressQueue struct {
	mu      sync.Mutex
	pending []schemas.AddressAttempt
	spare   []schemas.AddressAttempt
}

// PublishAddress implements engine.AddressPublisher: it queues the
// attempt for the next batch ShareAddresses publishes, or, when
// MaxAddressQueue attempts wait already (the broker is slow or down),
// drops it and counts it in Metrics.AddressesDropped. It never blocks on
// the broker.
func (s *Stream) PublishAddress(a *schemas.AddressAttempt) {
	q := &s.addresses
	q.mu.Lock()
	if len(q.pending) >= s.cfg.MaxAddressQueue {
		q.mu.Unlock()
		s.metrics.AddressesDropped.Add(1)
		return
	}
	q.pending = append(q.pending, *a)
	q.mu.Unlock()
}

// take returns the queued attempts and empties the queue; the slice is
// the queue's until the next take.
func (q *addressQueue) take() []schemas.AddressAttempt {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending, q.spare = q.spare[:0], out
	return out
}

// ShareAddresses publishes the attempts PublishAddress queued, every
// AddressInterval, until ctx ends; then it publishes what is left (for at
// most two seconds) and returns nil. A batch the broker does not take is
// kept and published again at the next tick, in order, and a warning is
// logged at most once a minute; what is kept and queued together is
// bounded by MaxAddressQueue, beyond which the oldest attempts are
// dropped and counted in Metrics.AddressesDropped, as are those left at
// shutdown.
func (s *Stream) ShareAddresses(ctx context.Context) error {
	defer label(ctx, "share addresses")()
	w := s.clients.Writer(s.cfg.AddressesTopic, WriterOptions{BatchSize: 16, BatchTimeout: time.Millisecond, MaxAttempts: 3})
	defer w.Close()
	log := s.cfg.Logger.With("topic", s.cfg.AddressesTopic)
	var (
		buf      []byte
		unsent   []schemas.AddressAttempt // taken from the queue, not yet published
		lastWarn time.Time
	)
	flush := func(ctx context.Context) {
		unsent = append(unsent, s.addresses.take()...)
		if over := len(unsent) - s.cfg.MaxAddressQueue; over > 0 {
			unsent = unsent[:copy(unsent, unsent[over:])]
			s.metrics.AddressesDropped.Add(int64(over))
		}
		sent := 0
		for sent < len(unsent) {
			n := min(len(unsent)-sent, maxAddressesPerMessage)
			buf = schemas.AppendAddressBatch(buf[:0], unsent[sent:sent+n])
			if err := s.publishAddressBatch(ctx, w, buf); err != nil {
				if ctx.Err() == nil && time.Since(lastWarn) >= followSummaryEvery {
					lastWarn = time.Now()
					log.Warn("publishing the shared addresses failed; retrying at the next interval",
						"attempts_waiting", len(unsent)-sent, "dropped_total", s.metrics.AddressesDropped.Load(), "err", err)
				}
				break
			}
			s.metrics.AddressesPublished.Add(int64(n))
			sent += n
		}
		unsent = unsent[:copy(unsent, unsent[sent:])]
	}
	engine.Every(ctx, s.cfg.AddressInterval, func() { flush(ctx) })
	last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	flush(last)
	cancel()
	s.metrics.AddressesDropped.Add(int64(len(unsent)))
	return nil
}

// publishAddressBatch writes one encoded batch, keyed by this process's
// instance id (its batches stay in order on one partition), signed and
// naming this process as decisions do.
func (s *Stream) publishAddressBatch(ctx context.Context, w *kafka.Writer, batch []byte) error {
	key := s.instance[0].Value
	mac := s.addressSigner.headers(s.addressSigner.sign(nil, key, batch))
	msg := kafka.Message{Key: key, Value: batch, Headers: []kafka.Header{s.instance[0], mac[0], mac[1]}}
	if err := w.WriteMessages(ctx, msg); err != nil {
		return fmt.Errorf("publishing %d bytes of shared addresses to %s: %w", len(batch), s.cfg.AddressesTopic, summarizeWriteErr(err))
	}
	return nil
}

// FollowAddresses reads every partition of the addresses topic from the
// first batch published at or after since, and calls apply for each
// attempt of the other instances' batches, until ctx ends (then it
// returns nil). Like FollowDecisions it uses no consumer group and
// commits nothing, skips this process's own batches (HeaderInstance),
// and applies only batches whose MAC verifies under one of
// Config.DecisionKeys (in their own domain: a decision's MAC never
// verifies as a batch's). A batch that is unsigned, does not verify or
// does not decode is dropped whole, counted in
// Metrics.AddressBatchesRefused and reported in one warning a minute;
// it never stops the reader. apply may be called concurrently from the
// partitions' readers.
func (s *Stream) FollowAddresses(ctx context.Context, since time.Time, apply func(*schemas.AddressAttempt)) error {
	if apply == nil {
		return errors.New("kafkastream: FollowAddresses needs an apply function")
	}
	topic := s.cfg.AddressesTopic
	f := &follower{stream: s, log: s.cfg.Logger.With("topic", topic), since: since}
	take := func(partition int, m kafka.Message) { f.takeAddresses(partition, m, apply) }
	// This process's own batches are passed over unread: counted here
	// when they were scored.
	return f.followTopic(ctx, topic, "shared addresses", func() {}, take, f.reportRefusedAddresses)
}

// takeAddresses applies the attempts of one batch of a partition of the
// addresses topic, when it is another process's authentic batch.
func (f *follower) takeAddresses(partition int, m kafka.Message, apply func(*schemas.AddressAttempt)) {
	s := f.stream
	if err := s.addressSigner.verify(m.Headers, m.Key, m.Value); err != nil {
		s.metrics.AddressBatchesRefused.Add(1)
		f.drop(partition, m.Offset, err)
		return
	}
	n, err := schemas.DecodeAddressAttempts(m.Value, apply)
	if err != nil {
		s.metrics.AddressBatchesRefused.Add(1)
		f.drop(partition, m.Offset, err)
		return
	}
	s.metrics.AddressesApplied.Add(int64(n))
	s.metrics.AddressLag.Store(int64(time.Since(m.Time)))
}

// reportRefusedAddresses logs the batches dropped since the last
// report, if any, as one warning.
func (f *follower) reportRefusedAddresses() {
	n, example := f.takeDropped()
	if n == 0 {
		return
	}
	f.log.Warn("batches on the addresses topic were not applied", "count", n, "first_err", example,
		"refused_total", f.stream.metrics.AddressBatchesRefused.Load())
}
