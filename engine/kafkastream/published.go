package kafkastream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

var _ engine.PublishedSource = (*Stream)(nil)

// PublishedDecisions implements engine.PublishedSource: it reads every
// partition of the decisions topic (concurrently, one reader each) from
// the first message the broker timestamped at or after since up to the
// partition's end when it was looked up (a zero since: from the first
// message kept), and calls fn, never
// concurrently, with each decision whose MAC verifies under
// Config.DecisionKeys, whichever process published it. A message that is
// unsigned, carries a MAC that does not verify or is not a decision is
// skipped and counted (Metrics, as for the follower), since an answer read
// back is given to an event as its decision. A failed read is retried
// from where it stopped until ctx ends. It returns once every partition
// is read, or ctx's error.
func (s *Stream) PublishedDecisions(ctx context.Context, since time.Time, fn func(*schemas.Decision) error) error {
	topic := s.cfg.DecisionsTopic
	log := s.cfg.Logger.With("topic", topic)
	partitions, err := s.partitionsOf(ctx, topic, log)
	if err != nil {
		return err
	}
	firsts, ends, err := s.partitionRanges(ctx, topic, partitions)
	if err != nil {
		return err
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // serialises fn
		errMu sync.Mutex
		errs  []error
	)
	for _, p := range partitions {
		wg.Go(func() {
			plog := log.With("partition", p)
			start, err := firsts[p], error(nil)
			if !since.IsZero() {
				start, err = startOffset(ctx, s, topic, p, since, plog)
			}
			if err == nil {
				err = s.readPublished(ctx, p, start, ends[p], plog, func(d *schemas.Decision) error {
					mu.Lock()
					defer mu.Unlock()
					return fn(d)
				})
			}
			if err != nil {
				errMu.Lock()
				errs = append(errs, fmt.Errorf("partition %d: %w", p, err))
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// partitionRanges returns the first and the end (next) offset of each
// of topic's partitions, retrying until ctx ends.
func (s *Stream) partitionRanges(ctx context.Context, topic string, partitions []int) (firsts, ends map[int]int64, err error) {
	client := s.clients.Client(10 * time.Second)
	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	firsts, ends = make(map[int]int64, len(partitions)), make(map[int]int64, len(partitions))
	err = engine.Retry(ctx, retryBackoff(), func(int) error {
		resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
		if err != nil {
			return err
		}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return fmt.Errorf("the offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			firsts[po.Partition], ends[po.Partition] = po.FirstOffset, po.LastOffset
		}
		return nil
	})
	if err != nil {
		return nil, nil, ctx.Err() // Retry only gives up when ctx ends
	}
	return firsts, ends, nil
}

// readPublished reads one partition of the decisions topic from offset
// up to end (exclusive), calling fn with each verified decision, and
// reads again from where it stopped after a failure until ctx ends; an
// error from fn stops it and is returned.
func (s *Stream) readPublished(ctx context.Context, partition int, offset, end int64, log *slog.Logger, fn func(*schemas.Decision) error) error {
	var stop error // fn's error: not retried
	readOn(ctx, "back published decisions", offset, log, func(ctx context.Context, offset int64) (int64, error) {
		if offset >= end {
			return offset, nil
		}
		offset, err := s.readPublishedOnce(ctx, partition, offset, end, func(d *schemas.Decision) error {
			stop = fn(d)
			return stop
		})
		if stop != nil {
			return offset, nil
		}
		return offset, err
	})
	if stop != nil {
		return stop
	}
	return ctx.Err() // nil once end was reached: readOn returns early only when ctx ends
}

// readPublishedOnce is one reader's pass of readPublished (readPartition,
// stopped once it reached end): it returns the offset to go on from.
func (s *Stream) readPublishedOnce(ctx context.Context, partition int, offset, end int64, fn func(*schemas.Decision) error) (int64, error) {
	rctx, done := context.WithCancel(ctx)
	defer done()
	var stop error
	offset, err := s.readPartition(rctx, s.cfg.DecisionsTopic, partition, 0, offset, nil, func(msgs []kafka.Message) {
		for i := range msgs {
			m := &msgs[i]
			if m.Offset+1 >= end {
				done()
			}
			if stop != nil || m.Offset >= end {
				return
			}
			d, err := s.authenticDecision(*m)
			if err != nil {
				continue
			}
			if stop = fn(d); stop != nil {
				done()
			}
		}
	})
	switch {
	case stop != nil:
		return offset, stop
	case offset >= end:
		return end, nil
	}
	return offset, err
}
