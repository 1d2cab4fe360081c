package engine

import (
	"context"
	"errors"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// ErrBacklogFull is returned by Submit when the recording queue is full:
// the decision stands, but the caller should tell its client to slow down.
var ErrBacklogFull = errors.New("recording backlog is full")

// Submit queues a scored event for recording (decision topic and history)
// without waiting: the synchronous HTTP API answers in about a millisecond
// and cannot wait for a ClickHouse flush. RunRecorder drains the queue in
// batches and retries until each batch is recorded. An event queued but
// not yet recorded when the process dies is lost from the topic and
// history (its state change is not); docs/reliability.md says so.
func (e *Engine) Submit(se schemas.ScoredEvent) error {
	select {
	case e.pending <- se:
		return nil
	default:
		return ErrBacklogFull
	}
}

// Backlog returns the number of submitted events not yet recorded.
func (e *Engine) Backlog() int { return len(e.pending) }

// RunRecorder records submitted events until ctx ends, then records what
// is still queued (bounded by drain) and returns.
func (e *Engine) RunRecorder(ctx context.Context, drain time.Duration) error {
	batch := make([]schemas.ScoredEvent, 0, 512)
	record := func(rctx context.Context) {
		backoff := 50 * time.Millisecond
		for attempt := 1; len(batch) > 0; attempt++ {
			err := e.cfg.Recorder.Record(rctx, batch)
			if err == nil {
				break
			}
			if rctx.Err() != nil {
				e.log.Warn("submitted events not recorded before shutdown", "count", len(batch), "err", err)
				break
			}
			if attempt == 1 || attempt%20 == 0 {
				e.log.Warn("recording submitted events failed, retrying", "count", len(batch), "attempt", attempt, "err", err)
			}
			select {
			case <-time.After(backoff):
			case <-rctx.Done():
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		batch = batch[:0]
	}
	for {
		select {
		case se := <-e.pending:
			batch = append(batch, se)
		fill:
			for len(batch) < cap(batch) {
				select {
				case se := <-e.pending:
					batch = append(batch, se)
				default:
					break fill
				}
			}
			record(ctx)
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			for {
				select {
				case se := <-e.pending:
					batch = append(batch, se)
					if len(batch) == cap(batch) {
						record(dctx)
					}
				default:
					record(dctx)
					return nil
				}
			}
		}
	}
}
