package kafkastream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
)

// Run consumes the events topic in the consumer group until ctx is
// cancelled, handing each partition's messages to proc in batches of up
// to MaxBatch. A batch's offset is committed only after proc.Record
// returned nil for it; a failing Record is retried with backoff, so a
// partition never skips an event. On cancellation Run stops fetching,
// lets every worker finish and commit its current batch (bounded by
// DrainTimeout), leaves the group and returns nil.
func (s *Stream) Run(ctx context.Context, proc engine.BatchProcessor) error {
	log := s.cfg.Logger
	group, err := s.clients.ConsumerGroup(s.cfg.GroupID, []string{s.cfg.EventsTopic}, true, s.cfg.SessionTimeout, log)
	if err != nil {
		return err
	}
	closed := make(chan struct{})
	go func() {
		<-ctx.Done()
		// Close ends the generation and waits for every partition worker
		// to drain and commit.
		_ = group.Close()
		close(closed)
	}()
	failures := 0
	for {
		gen, err := group.Next(context.Background())
		if errors.Is(err, kafka.ErrGroupClosed) {
			<-closed
			return nil
		}
		if err != nil {
			s.metrics.Connected.Store(false)
			failures++
			// The group retries by itself; one line per streak, not per try.
			if failures == 1 || failures%30 == 0 {
				log.Warn("kafka consumer group not ready, retrying", "group", s.cfg.GroupID, "attempts", failures, "err", err)
			}
			continue
		}
		s.metrics.Connected.Store(true)
		if failures > 0 {
			log.Info("kafka consumer group joined", "group", s.cfg.GroupID, "after_attempts", failures)
			failures = 0
		}
		var parts []int
		for _, a := range gen.Assignments[s.cfg.EventsTopic] {
			a := a
			parts = append(parts, a.ID)
			gen.Start(func(gctx context.Context) {
				defer label(gctx, "consume")()
				s.consumePartition(gctx, gen, a.ID, a.Offset, proc)
			})
		}
		s.instances.assigned(gen.ID, parts)
		gen.Start(func(gctx context.Context) { <-gctx.Done(); s.instances.revoked(gen.ID) })
		log.Info("kafka generation started", "generation", gen.ID, "partitions", parts)
	}
}

// consumePartition is one partition's worker: a fetcher goroutine hands
// over what each fetch brought, the worker takes whatever is ready (up to
// MaxBatch) as one batch and scores it, and a recorder goroutine records and commits the
// scored batches in order.
func (s *Stream) consumePartition(gctx context.Context, gen *kafka.Generation, partition int, offset int64, proc engine.BatchProcessor) {
	log := s.cfg.Logger.With("partition", partition)
	assigned := time.Now()
	if !s.assign(gctx, partition, proc, log) {
		return
	}
	if offset < 0 {
		offset = kafka.FirstOffset
	}

	// The fetcher hands each fetch over whole; the worker cuts batches
	// of up to MaxBatch from what it was handed. A failed fetch is tried
	// again (readOn) from the next offset.
	fetched := make(chan []kafka.Message)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer label(gctx, "fetch")()
		defer wg.Done()
		defer close(fetched)
		readOn(gctx, "the events partition", offset, log, func(ctx context.Context, offset int64) (int64, error) {
			return s.readPartition(ctx, s.cfg.EventsTopic, partition, consumerFetchBytes, offset, nil, func(msgs []kafka.Message) {
				select {
				case fetched <- msgs:
				case <-ctx.Done():
				}
			})
		})
	}()
	defer wg.Wait()

	// Batches are scored here, in order, and recorded and committed in
	// order by the partition's recorder, so up to MaxInFlight batches are
	// under way at once: scoring the next batches overlaps the wait for
	// the decisions' acknowledgement and the history insert of the
	// previous ones, and the recorder records whatever is scored by then
	// in one go. A slot is taken before scoring and given back after the
	// commit.
	queue := make(chan preparedBatch, s.cfg.MaxInFlight)
	slots := make(chan struct{}, s.cfg.MaxInFlight)
	stopped := make(chan struct{}) // the recorder gave up: stop scoring
	recorderDone := make(chan struct{})
	go func() {
		defer close(recorderDone)
		defer label(gctx, "record")()
		s.recordPartition(gctx, gen, partition, queue, slots, stopped, proc, log)
	}()
	defer func() {
		close(queue)
		<-recorderDone
	}()

	batch := make([]engine.Message, 0, s.cfg.MaxBatch)
	var pending []kafka.Message // handed over by the fetcher, not yet in a batch
	for {
		batch = batch[:0]
		if len(pending) == 0 {
			select {
			case msgs, ok := <-fetched:
				if !ok {
					return
				}
				pending = msgs
			case <-gctx.Done():
				return
			case <-stopped:
				return
			}
		}
		var last kafka.Message
	fill:
		for len(batch) < s.cfg.MaxBatch {
			if len(pending) == 0 {
				select {
				case msgs, ok := <-fetched:
					if !ok {
						break fill
					}
					pending = msgs
				default:
					break fill
				}
			}
			n := min(len(pending), s.cfg.MaxBatch-len(batch))
			for _, m := range pending[:n] {
				batch = append(batch, toMessage(m))
			}
			last, pending = pending[n-1], pending[n:]
		}
		// A fetched batch is scored even if the generation ended while
		// waiting for a slot: once taken it is finished or left
		// uncommitted, never half-scored.
		select {
		case slots <- struct{}{}:
		case <-stopped:
			return
		}
		if !assigned.IsZero() {
			log.Info("first batch of the partition scored", "offset", batch[0].Offset, "since_assignment", time.Since(assigned).Round(time.Microsecond))
			assigned = time.Time{}
		}
		s.metrics.MessagesTotal.Add(int64(len(batch)))
		s.metrics.BatchesTotal.Add(1)
		if lag := last.HighWaterMark - last.Offset - 1; lag >= 0 {
			s.metrics.Lag.Store(lag)
		}
		queue <- preparedBatch{batch: proc.Prepare(batch), messages: len(batch), lastOffset: last.Offset}
		if gctx.Err() != nil {
			return
		}
	}
}

// assign tells proc, when it is an engine.PartitionAssignee, that the
// partition is assigned, before any of its messages is fetched: the
// engine catches the partition's users up from history there
// (docs/scaling.md, "State follows its partition"). A failure is retried
// with backoff; it reports false when the assignment ended first.
func (s *Stream) assign(gctx context.Context, partition int, proc engine.BatchProcessor, log *slog.Logger) bool {
	pa, ok := proc.(engine.PartitionAssignee)
	if !ok {
		return true
	}
	err := engine.Retry(gctx, engine.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}, func(attempt int) error {
		err := pa.Assigned(gctx, partition)
		if err != nil && gctx.Err() == nil {
			s.metrics.RetriesTotal.Add(1)
			if attempt == 1 || attempt%20 == 0 {
				log.Warn("catching the partition up failed, retrying; its events wait", "attempt", attempt, "err", err)
			}
		}
		return err
	})
	return err == nil
}

// preparedBatch is a scored batch waiting to be recorded and committed.
type preparedBatch struct {
	batch      *engine.Batch
	messages   int
	lastOffset int64
}

// recordPartition records and commits one partition's scored batches in
// order. When the generation ends it finishes the queued batches within
// DrainTimeout; a batch it cannot finish, and every batch after it, is
// left uncommitted for redelivery. It closes stopped when it gives up.
//
// With PublishBeforeHistory and a PublishingProcessor a batch's decisions
// are published at once and its slot given back, and a committer
// goroutine commits each batch, in order, once its history rows are
// inserted too: the history writer can then gather large inserts (its
// buffer bounds what waits, and its back-pressure blocks Publish) without
// holding the decisions back.
func (s *Stream) recordPartition(gctx context.Context, gen *kafka.Generation, partition int, queue <-chan preparedBatch, slots <-chan struct{}, stopped chan<- struct{}, proc engine.BatchProcessor, log *slog.Logger) {
	// The drain context outlives the generation by DrainTimeout at most.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(gctx, func() {
		t := time.AfterFunc(s.cfg.DrainTimeout, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	defer stop()

	var giveUp sync.Once
	failed := false
	fail := func() {
		failed = true
		giveUp.Do(func() { close(stopped) })
	}
	publisher, staged := proc.(engine.PublishingProcessor)
	staged = staged && s.cfg.PublishBeforeHistory
	var pending chan durableBatch
	if staged {
		pending = make(chan durableBatch, maxUndurable)
		committed := make(chan struct{})
		go func() {
			defer close(committed)
			s.commitDurable(ctx, gen, partition, pending, func() { giveUp.Do(func() { close(stopped) }) }, log)
		}()
		defer func() {
			close(pending)
			<-committed
		}()
	}
	for p := range queue {
		// Everything scored while the previous record was under way goes
		// out in one record: records are waits (the broker's ack, a
		// history flush), so a partition's throughput is its batch per
		// wait, and latency stays about two waits at any rate.
		taken := 1
	merge:
		for {
			select {
			case q, ok := <-queue:
				if !ok {
					break merge
				}
				p.join(q)
				taken++
			default:
				break merge
			}
		}
		switch {
		case failed:
		case staged:
			if durable, ok := s.publish(ctx, publisher, p, log); ok {
				pending <- durableBatch{durable: durable, messages: p.messages, lastOffset: p.lastOffset}
			} else {
				fail()
			}
		case !s.recordAndCommit(ctx, gen, partition, p, proc, log):
			fail()
		}
		for range taken {
			<-slots
		}
	}
}

// maxUndurable bounds the published batches of a partition waiting for
// their history insert (the history writer's buffer bounds their rows).
const maxUndurable = 1024

// durableBatch is a published batch waiting for its history insert before
// its offset is committed.
type durableBatch struct {
	durable    func(context.Context) error
	messages   int
	lastOffset int64
}

// publish publishes one scored batch until that succeeds. It reports
// whether it did, and returns what waits for the batch's history.
func (s *Stream) publish(ctx context.Context, proc engine.PublishingProcessor, p preparedBatch, log *slog.Logger) (durable func(context.Context) error, ok bool) {
	err := s.retryBatch(ctx, p.messages, "publishing batch failed, retrying", log, func() error {
		var err error
		durable, err = proc.Publish(ctx, p.batch)
		return err
	})
	if err != nil {
		log.Warn("batch not published before the drain timeout; it will be redelivered", "messages", p.messages, "err", err)
		return nil, false
	}
	return durable, true
}

// commitDurable commits the published batches of a partition in order,
// each once its history is inserted. It takes the batches waiting in
// rounds: it waits for each batch of the round in order, then commits the
// round's last offset once, so that commits stay few while the batches
// arriving meanwhile wait for the next round (never postponing this one's
// commit). A batch whose history is not inserted before the drain
// timeout, and every batch after it, is left uncommitted for redelivery:
// it calls giveUp and drops the rest.
func (s *Stream) commitDurable(ctx context.Context, gen *kafka.Generation, partition int, pending <-chan durableBatch, giveUp func(), log *slog.Logger) {
	failed := false
	var round []durableBatch
	for d := range pending {
		if failed {
			continue
		}
		round = append(round[:0], d)
	take:
		for range len(pending) {
			select {
			case next, ok := <-pending:
				if !ok {
					break take
				}
				round = append(round, next)
			default:
				break take
			}
		}
		last := int64(-1)
		for _, d := range round {
			err := s.retryBatch(ctx, d.messages, "history of a published batch not stored, retrying", log, func() error { return d.durable(ctx) })
			if err != nil {
				log.Warn("history of a published batch not stored before the drain timeout; it will be redelivered", "messages", d.messages, "err", err)
				failed = true
				break
			}
			last = d.lastOffset
		}
		if last >= 0 && !s.commit(ctx, gen, partition, last) {
			failed = true
		}
		if failed {
			giveUp()
		}
	}
}

// join appends the next scored batch of the partition to p, which the
// recorder owns.
func (p *preparedBatch) join(next preparedBatch) {
	p.batch.Scored = append(p.batch.Scored, next.batch.Scored...)
	p.batch.Rejected = append(p.batch.Rejected, next.batch.Rejected...)
	p.messages += next.messages
	p.lastOffset = next.lastOffset
}

// recordAndCommit records one scored batch until that succeeds, then
// commits it. It reports whether the batch was committed.
func (s *Stream) recordAndCommit(ctx context.Context, gen *kafka.Generation, partition int, p preparedBatch, proc engine.BatchProcessor, log *slog.Logger) bool {
	err := s.retryBatch(ctx, p.messages, "recording batch failed, retrying", log, func() error { return proc.Record(ctx, p.batch) })
	if err != nil {
		log.Warn("batch not finished before the drain timeout; it will be redelivered", "messages", p.messages, "err", err)
		return false
	}
	return s.commit(ctx, gen, partition, p.lastOffset)
}

// retryBatch calls fn with backoff until it succeeds or ctx ends, counting
// and logging (the first failure and every 20th) the failed attempts.
func (s *Stream) retryBatch(ctx context.Context, messages int, failure string, log *slog.Logger, fn func() error) error {
	return engine.Retry(ctx, engine.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}, func(attempt int) error {
		err := fn()
		if err != nil && ctx.Err() == nil {
			s.metrics.RetriesTotal.Add(1)
			if attempt == 1 || attempt%20 == 0 {
				log.Warn(failure, "messages", messages, "attempt", attempt, "err", err)
			}
		}
		return err
	})
}

// commit commits a partition's offset past lastOffset, retrying a few
// times. It reports whether the commit went through.
func (s *Stream) commit(ctx context.Context, gen *kafka.Generation, partition int, lastOffset int64) bool {
	commit := map[string]map[int]int64{s.cfg.EventsTopic: {partition: lastOffset + 1}}
	for attempt := 1; ; attempt++ {
		s.commitMu.Lock()
		err := gen.CommitOffsets(commit)
		s.commitMu.Unlock()
		if err == nil {
			s.metrics.CommitsTotal.Add(1)
			return true
		}
		// A commit that fails after the generation ended is harmless: the
		// events are recorded and will be deduplicated on redelivery.
		if ctx.Err() != nil || attempt >= 5 {
			s.cfg.Logger.Warn("committing offset failed; the batch may be redelivered", "partition", partition, "offset", lastOffset+1, "err", err)
			return false
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
}

// consumerFetchBytes bounds one fetch of the events: the fetcher holds
// one fetch while the worker cuts batches from the previous one, so a
// partition holds two at most.
const consumerFetchBytes = 1 << 20

func toMessage(m kafka.Message) engine.Message {
	return engine.Message{Key: m.Key, Value: m.Value, Partition: m.Partition, Offset: m.Offset, Time: m.Time}
}
