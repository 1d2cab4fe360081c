package kafkastream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// lockKeyJSON and feedbackKeyJSON are the keys of a decision's lock and
// feedback context in its JSON: a decision with neither changes nothing
// on another instance and is skipped unread.
var (
	lockKeyJSON     = []byte(`"lock"`)
	feedbackKeyJSON = []byte(`"feedback"`)
)

// followSummaryEvery is how often FollowDecisions reports the decisions it
// did not apply since its last report.
const followSummaryEvery = time.Minute

// FollowDecisions keeps a replicated view of every instance's decisions: it
// reads every partition of the decisions topic from the first message
// published at or after since (since = now − 24 h rebuilds the locks still
// active) and calls apply for each decision that carries a lock, until ctx
// ends. A decision without a "lock" key changes no lock table and is
// skipped without being decoded: most decisions are plain allows, and
// decoding each of them cost every instance as much as scoring it. It uses no
// consumer group and commits nothing: every instance reads everything, one
// reader per partition. apply is never called concurrently; within a
// partition it sees the decisions in order.
//
// Only authenticated decisions are applied: a lock decision whose MAC is
// missing (ErrUnsigned) or does not verify under Config.DecisionKeys
// (ErrBadMAC) is dropped before it is decoded, as is a message that is
// not a Decision; a decision apply returns an error for is counted as
// refused. Each kind has a counter in Metrics, and the drops are reported
// as one warning per minute with their counts and the first reason.
//
// The partitions are looked up once at start (retrying until the topic
// exists or ctx ends); partitions added later are followed after a
// restart. FollowDecisions returns nil when ctx ends.
func (s *Stream) FollowDecisions(ctx context.Context, since time.Time, apply func(*schemas.Decision) error) error {
	if apply == nil {
		return errors.New("kafkastream: FollowDecisions needs an apply function")
	}
	f := &follower{stream: s, log: s.cfg.Logger.With("topic", s.cfg.DecisionsTopic), apply: apply, since: since}
	// This process's own decisions are passed over unread: it applied
	// them when it made them.
	own := func() { s.metrics.OwnDecisionsSkipped.Add(1) }
	return f.followTopic(ctx, s.cfg.DecisionsTopic, "decisions", own, f.take, f.reportDropped)
}

// followTopic follows every partition of topic (looked up once, retrying
// until the topic exists or ctx ends) from since, handing each message to
// take, and calls report every followSummaryEvery and once at the end,
// until ctx ends; it returns nil then.
func (f *follower) followTopic(ctx context.Context, topic, what string, own func(), take func(partition int, m kafka.Message), report func()) error {
	partitions, err := f.stream.partitionsOf(ctx, topic, f.log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	f.log.Info("following "+what, "partitions", len(partitions), "since", f.since.UTC().Format(time.RFC3339))
	var wg sync.WaitGroup
	for _, p := range partitions {
		wg.Go(func() {
			defer label(ctx, "follow "+what)()
			f.followPartition(ctx, topic, what, p, own, take)
		})
	}
	wg.Go(func() { engine.Every(ctx, followSummaryEvery, report) })
	wg.Wait()
	report()
	return nil
}

// partitionsOf returns the partition ids of topic, retrying (with
// backoff, logging the first failure and every tenth) until the topic
// has partitions, each with a leader, or ctx ends.
func (s *Stream) partitionsOf(ctx context.Context, topic string, log *slog.Logger) ([]int, error) {
	client := s.clients.Client(10 * time.Second)
	var ids []int
	err := engine.Retry(ctx, retryBackoff(), func(attempt int) error {
		var err error
		ids, err = func() ([]int, error) {
			resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
			if err != nil {
				return nil, err
			}
			for _, t := range resp.Topics {
				if t.Name != topic {
					continue
				}
				if t.Error != nil {
					return nil, t.Error
				}
				ids := make([]int, 0, len(t.Partitions))
				for _, p := range t.Partitions {
					if p.Leader.Host == "" {
						// A topic just created: a reader made now
						// would dial an empty address.
						return nil, fmt.Errorf("partition %d has no leader yet", p.ID)
					}
					ids = append(ids, p.ID)
				}
				if len(ids) > 0 {
					sort.Ints(ids)
					return ids, nil
				}
			}
			return nil, errors.New("the topic has no partitions")
		}()
		if err != nil && ctx.Err() == nil && (attempt == 1 || attempt%10 == 0) {
			log.Warn("looking up the topic's partitions failed, retrying", "brokers", strings.Join(s.cfg.Brokers, ","), "attempt", attempt, "err", err)
		}
		return err
	})
	if err != nil {
		return nil, ctx.Err() // Retry only gives up when ctx ends
	}
	return ids, nil
}

// follower is the state FollowDecisions shares between its partition
// readers.
type follower struct {
	stream *Stream
	log    *slog.Logger
	since  time.Time

	applyMu sync.Mutex
	apply   func(*schemas.Decision) error

	dropped  atomic.Int64 // decisions not applied since the last report
	firstErr atomic.Pointer[string]
}

// followPartition follows one partition of topic from since until ctx
// ends, handing each message to take.
func (f *follower) followPartition(ctx context.Context, topic, what string, partition int, own func(), take func(partition int, m kafka.Message)) {
	s := f.stream
	log := f.log.With("partition", partition)
	offset, err := startOffset(ctx, s, topic, partition, f.since, log)
	if err != nil {
		return // ctx ended
	}
	readOn(ctx, what, offset, log, func(ctx context.Context, offset int64) (int64, error) {
		return s.readPartition(ctx, topic, partition, 0, offset, own, func(msgs []kafka.Message) {
			for _, m := range msgs {
				take(partition, m)
			}
		})
	})
}

// readOn calls read from offset, and after each failure again from the
// offset it returned, waiting per retryBackoff, until read succeeds or
// ctx ends: a reader that fails (a broker that timed out, a leader not
// known yet) never stops a follower for good, since an instance that stops following
// would answer from a lock table, an instance directory or address counts
// that no longer change. A follower's read returns only when its reader
// fails or ctx ends; the read-back of published decisions succeeds once
// it reached the end. The first failure and every tenth are logged.
func readOn(ctx context.Context, what string, offset int64, log *slog.Logger, read func(ctx context.Context, offset int64) (int64, error)) {
	_ = engine.Retry(ctx, retryBackoff(), func(attempt int) error {
		var err error
		offset, err = read(ctx, offset)
		if err != nil && ctx.Err() == nil && (attempt == 1 || attempt%10 == 0) {
			log.Warn("reading "+what+" failed, reading again", "attempts", attempt, "offset", offset, "err", err)
		}
		return err
	})
}

// readPartition reads a partition of topic from offset, with fetches of
// up to maxBytes (0: FetchMaxBytes) that wait at most followMaxWait,
// handing the messages of each fetch to take in one slice, in order,
// until a fetch fails or ctx ends, and returns the offset to go on from.
// It commits nothing: the consumer and the followers read with it. The
// two slices it hands over alternate: one is filled again only once take
// was called with the other, so take may keep a slice until it is called
// again (the consumer's fetcher hands it to the worker, which takes the
// next only when it is through with it).
//
// It fetches with kafka-go's Client over the stream's Transport, not
// with a Reader, whose goroutine copies every message's key and value
// and hands the messages over one at a time through a channel: here a
// message whose headers name this process (HeaderInstance) is passed
// over before its key and value are read when own is not nil, and only
// own is called for it. With one instance every decision and every
// batch of addresses is its own.
func (s *Stream) readPartition(ctx context.Context, topic string, partition, maxBytes int, offset int64, own func(), take func([]kafka.Message)) (int64, error) {
	if maxBytes == 0 {
		maxBytes = FetchMaxBytes
	}
	client := s.clients.Client(followMaxWait + 10*time.Second)
	var handed [2][]kafka.Message
	turn := 0
	for {
		resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset, MinBytes: 1, MaxBytes: int64(maxBytes), MaxWait: followMaxWait})
		if err == nil && resp.Error != nil {
			err = resp.Error
		}
		if errors.Is(err, kafka.OffsetOutOfRange) {
			// Deleted by retention meanwhile: go on from the oldest kept.
			return kafka.FirstOffset, fmt.Errorf("fetching %s/%d at offset %d: %w", topic, partition, offset, err)
		}
		if err != nil {
			return offset, fmt.Errorf("fetching %s/%d at offset %d: %w", topic, partition, offset, err)
		}
		msgs := handed[turn][:0]
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if len(msgs) > 0 {
					take(msgs)
				}
				return offset, fmt.Errorf("reading %s/%d at offset %d: %w", topic, partition, offset, err)
			}
			if r.Offset < offset {
				release(r)
				continue // the fetched batch began before offset
			}
			offset = r.Offset + 1
			if own != nil && s.ownDecision(r.Headers) {
				release(r)
				own()
				continue
			}
			key, err := protocol.ReadAll(r.Key)
			if err == nil {
				var value []byte
				value, err = protocol.ReadAll(r.Value)
				release(r)
				if err == nil {
					msgs = append(msgs, kafka.Message{Topic: topic, Partition: partition, Offset: r.Offset, HighWaterMark: resp.HighWatermark, Key: key, Value: value, Headers: r.Headers, Time: r.Time})
					continue
				}
			}
			if len(msgs) > 0 {
				take(msgs)
			}
			return r.Offset, fmt.Errorf("reading %s/%d at offset %d: %w", topic, partition, r.Offset, err)
		}
		if len(msgs) > 0 {
			take(msgs)
			handed[turn] = msgs
			turn ^= 1
		}
	}
}

// release gives a fetched record's key and value back to kafka-go's page
// pool, once read or passed over: the pages of a fetch are reused when
// every record on them is released.
func release(r *kafka.Record) {
	if r.Key != nil {
		r.Key.Close()
	}
	if r.Value != nil {
		r.Value.Close()
	}
}

// followMaxWait is how long a follower's fetch waits for a message: the
// longest a decision, an address batch or an instance record waits on
// the broker once published, when nothing else comes.
const followMaxWait = 250 * time.Millisecond

// take applies one message of a partition of the decisions topic, when
// it is another process's authentic lock or feedback decision.
func (f *follower) take(partition int, m kafka.Message) {
	s := f.stream
	if !bytes.Contains(m.Value, lockKeyJSON) && !bytes.Contains(m.Value, feedbackKeyJSON) {
		return
	}
	d, err := s.authenticDecision(m)
	if err != nil {
		f.drop(partition, m.Offset, err)
		return
	}
	f.applyMu.Lock()
	err = f.apply(d)
	f.applyMu.Unlock()
	if err != nil {
		s.metrics.DecisionsRefused.Add(1)
		f.drop(partition, m.Offset, fmt.Errorf("refused: %w", err))
		return
	}
	s.metrics.DecisionsFollowed.Add(1)
}

// authenticDecision verifies m's signature and decodes the decision it
// carries, counting what it refuses (unsigned, a bad MAC, undecodable),
// for the follower and the read-back of published decisions alike.
func (s *Stream) authenticDecision(m kafka.Message) (*schemas.Decision, error) {
	if err := s.signer.verify(m.Headers, m.Key, m.Value); err != nil {
		if errors.Is(err, ErrUnsigned) {
			s.metrics.DecisionsUnsigned.Add(1)
		} else {
			s.metrics.DecisionsBadMAC.Add(1)
		}
		return nil, err
	}
	d := new(schemas.Decision)
	if err := json.Unmarshal(m.Value, d); err != nil || d.EventID == "" {
		if err == nil {
			err = errors.New("no event_id")
		}
		s.metrics.DecisionsUndecodable.Add(1)
		return nil, fmt.Errorf("not a decision: %w", err)
	}
	return d, nil
}

// drop counts a decision that was not applied, keeping the first reason
// for the next report.
func (f *follower) drop(partition int, offset int64, err error) {
	f.dropped.Add(1)
	if f.firstErr.Load() == nil {
		msg := fmt.Sprintf("partition %d offset %d: %v", partition, offset, err)
		f.firstErr.CompareAndSwap(nil, &msg)
	}
}

// takeDropped returns the count of messages dropped since the last
// report and the first one's reason, and counts again from zero.
func (f *follower) takeDropped() (n int64, first string) {
	n = f.dropped.Swap(0)
	if p := f.firstErr.Swap(nil); p != nil {
		first = *p
	}
	return n, first
}

// ownDecision reports whether a decision's headers name this process.
func (s *Stream) ownDecision(headers []kafka.Header) bool {
	for _, h := range headers {
		if h.Key == HeaderInstance {
			return bytes.Equal(h.Value, s.instance[0].Value)
		}
	}
	return false
}

// startOffset returns the offset of the first message of a partition of
// topic at or after since, or the end of the partition when every
// message is older, retrying until ctx ends. The end is read before the
// time lookup, so a message published between the two lookups is not
// skipped.
func startOffset(ctx context.Context, s *Stream, topic string, partition int, since time.Time, log *slog.Logger) (int64, error) {
	var offset int64
	err := engine.Retry(ctx, retryBackoff(), func(attempt int) error {
		var err error
		offset, err = s.offsetAt(ctx, topic, partition, since)
		if err != nil && ctx.Err() == nil && (attempt == 1 || attempt%10 == 0) {
			log.Warn("finding where to start reading the topic failed, retrying", "attempt", attempt, "err", err)
		}
		return err
	})
	if err != nil {
		return 0, ctx.Err() // Retry only gives up when ctx ends
	}
	return offset, nil
}

// retryBackoff is the backoff of the follower's broker look-ups.
func retryBackoff() engine.Backoff {
	return engine.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
}

// offsetAt asks the leader of a partition of topic for the first offset
// at or after t.
func (s *Stream) offsetAt(ctx context.Context, topic string, partition int, t time.Time) (int64, error) {
	var errs []error
	for _, broker := range s.cfg.Brokers {
		conn, err := s.clients.dialer.DialLeader(ctx, "tcp", broker, topic, partition)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		offset, err := readOffsetAt(ctx, conn, t)
		conn.Close()
		if err != nil {
			return 0, fmt.Errorf("reading the offsets of %s/%d: %w", topic, partition, err)
		}
		return offset, nil
	}
	return 0, fmt.Errorf("reaching the leader of %s/%d: %w", topic, partition, errors.Join(errs...))
}

// readOffsetAt reads, on a connection to a partition's leader, the end of
// the partition and then the first offset at or after t; the end when no
// message is that recent.
func readOffsetAt(ctx context.Context, conn *kafka.Conn, t time.Time) (int64, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = conn.SetDeadline(deadline)
	end, err := conn.ReadLastOffset()
	if err != nil {
		return 0, err
	}
	offset, err := conn.ReadOffset(t)
	if err != nil {
		return 0, err
	}
	if offset < 0 { // no message at or after t
		return end, nil
	}
	return offset, nil
}

// reportDropped logs the decisions not applied since the last report,
// if any, as one warning with the totals by kind.
func (f *follower) reportDropped() {
	n, example := f.takeDropped()
	if n == 0 {
		return
	}
	m := &f.stream.metrics
	f.log.Warn("decisions on the decisions topic were not applied", "count", n, "first_err", example,
		"unsigned_total", m.DecisionsUnsigned.Load(), "bad_mac_total", m.DecisionsBadMAC.Load(),
		"refused_total", m.DecisionsRefused.Load(), "undecodable_total", m.DecisionsUndecodable.Load())
}
