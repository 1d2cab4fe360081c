package engine

import (
	"context"
	"errors"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// ErrBacklogFull is returned by Reserve when the recording queue is full: the caller should tell its client to slow down.
var ErrBacklogFull = errors.New("recording backlog is full")

// Reservation is a place held in the recording queue. The HTTP API
// reserves before scoring, so that a full queue refuses the request
// before the attempt changes any state: the client's retry is then scored
// as new, not taken for a duplicate of an event that was never recorded.
// Exactly one of Submit and Cancel must be called.
type Reservation struct {
	e *Engine
}

// Reserve holds a place in the recording queue, or returns ErrBacklogFull.
func (e *Engine) Reserve() (Reservation, error) {
	for {
		n := e.queued.Load()
		if n >= int64(cap(e.pending)) {
			return Reservation{}, ErrBacklogFull
		}
		if e.queued.CompareAndSwap(n, n+1) {
			return Reservation{e: e}, nil
		}
	}
}

// Submit queues a scored event for recording (decision topic and history)
// without waiting: the synchronous HTTP API answers in about a millisecond
// and cannot wait for a ClickHouse flush. RunRecorder drains the queue in
// batches and retries until each batch is recorded. An event queued but
// not yet recorded when the process dies is lost from the topic and
// history (its state change is not); docs/reliability.md says so.
func (r Reservation) Submit(se schemas.ScoredEvent) {
	// Never blocks: at most cap(pending) places are reserved, and a place
	// is given back only after its event left the channel.
	r.e.pending <- se
}

// Cancel gives the place back unused (dry runs, duplicates, errors).
func (r Reservation) Cancel() { r.e.queued.Add(-1) }

// taken appends se, just taken from the queue, to batch and gives its
// place back.
func (e *Engine) taken(batch []schemas.ScoredEvent, se schemas.ScoredEvent) []schemas.ScoredEvent {
	e.queued.Add(-1)
	return append(batch, se)
}

// Backlog returns the number of reserved and submitted events not yet
// taken for recording.
func (e *Engine) Backlog() int { return int(e.queued.Load()) }

// RecordLinger is how long RunRecorder gathers submitted events after the
// first before it records them, so that the scores of a busy HTTP API go
// to Kafka in one produce request per partition every few milliseconds
// rather than one every few events (at 10 000 scores/s it divided the
// broker's CPU per score, docs/performance.md). The answer to the score
// request does not wait for it; its decision reaches the decisions topic
// up to this much later.
const RecordLinger = 5 * time.Millisecond

// RunRecorder records submitted events until ctx ends, then records what
// is still queued (bounded by drain) and returns.
func (e *Engine) RunRecorder(ctx context.Context, drain time.Duration) error {
	// A record takes everything queued: each waits for a history flush
	// (clickhouse.flush_interval, a second by default), so the queue
	// drains at up to its size per flush.
	batch := make([]schemas.ScoredEvent, 0, cap(e.pending))
	record := func(rctx context.Context) {
		if len(batch) == 0 {
			return
		}
		err := Retry(rctx, Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}, func(attempt int) error {
			err := e.cfg.Recorder.Record(rctx, batch)
			if err != nil && rctx.Err() == nil && (attempt == 1 || attempt%20 == 0) {
				e.log.Warn("recording submitted events failed, retrying", "count", len(batch), "attempt", attempt, "err", err)
			}
			return err
		})
		if err != nil {
			e.log.Warn("submitted events not recorded before shutdown", "count", len(batch), "err", err)
		}
		if err := e.recordAttackModeChanges(rctx); err != nil && rctx.Err() == nil {
			e.log.Warn("attack mode changes not recorded, kept for the next batch", "err", err)
		}
		batch = batch[:0]
	}
	// finish records what is queued after ctx ended, under a context of
	// its own bounded by drain.
	finish := func() error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
		defer cancel()
		for {
			select {
			case se := <-e.pending:
				batch = e.taken(batch, se)
				if len(batch) == cap(batch) {
					record(dctx)
				}
			default:
				record(dctx)
				return nil
			}
		}
	}
	for {
		select {
		case se := <-e.pending:
			batch = e.taken(batch, se)
			linger := time.NewTimer(RecordLinger)
		fill:
			for len(batch) < cap(batch) {
				select {
				case se := <-e.pending:
					batch = e.taken(batch, se)
				case <-linger.C:
					break fill
				case <-ctx.Done():
					break fill
				}
			}
			linger.Stop()
			if ctx.Err() != nil { // the batch gathered goes with the rest
				return finish()
			}
			record(ctx)
		case <-ctx.Done():
			return finish()
		}
	}
}
