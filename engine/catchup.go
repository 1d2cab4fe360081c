package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// PartitionSource streams the scored events read from one partition of
// the events topic at or after an offset that occurred at or after a
// time, each once, in offset order; history.Writer implements it. A
// WarmUp source that implements it lets the engine catch a partition up
// when the partition is assigned to it (CatchUp).
type PartitionSource interface {
	PartitionEvents(ctx context.Context, partition int32, from int64, since time.Time, fn func(schemas.ScoredEvent) error) error
}

// PartitionAssignee is an optional part of a BatchProcessor: the stream
// calls Assigned when it is given a partition, before it fetches any of
// the partition's messages, again until it returns nil or the assignment
// ends. Engine implements it with CatchUp.
type PartitionAssignee interface {
	Assigned(ctx context.Context, partition int) error
}

// partitionCatchUp remembers, per partition of the events topic, the
// offset after the last event of it that the engine's state has taken in
// (scored, warmed up or caught up), and the source a catch-up reads.
type partitionCatchUp struct {
	mu     sync.Mutex
	next   map[int32]int64
	source PartitionSource
}

// applied records that the event at offset of partition is in the state.
func (p *partitionCatchUp) applied(partition int32, offset int64) {
	p.mu.Lock()
	if p.next == nil {
		p.next = make(map[int32]int64)
	}
	if offset >= p.next[partition] {
		p.next[partition] = offset + 1
	}
	p.mu.Unlock()
}

func (p *partitionCatchUp) setSource(src PartitionSource) {
	p.mu.Lock()
	p.source = src
	p.mu.Unlock()
}

// from returns the source and the first offset of partition not in the
// state.
func (p *partitionCatchUp) from(partition int32) (PartitionSource, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.source, p.next[partition]
}

// CatchUpStats reports what a catch-up applied.
type CatchUpStats struct {
	Partition int32
	// From is the first offset read: the one after the last event of the
	// partition already in the state.
	From int64
	// Events counts the events fed through the state; Skipped those it
	// already held (by event_id).
	Events, Skipped int
	// Next is the first offset of the partition not in the state after
	// the catch-up.
	Next int64
	// LocksRefused counts the locks admitLock refused.
	LocksRefused int
}

// CatchUp brings the state of one partition's users up to what history
// holds, before the engine scores the partition's next event (see
// docs/scaling.md, "State follows its partition"). Every instance warms
// up from the whole history at start, and then takes in only the events
// of the partitions it owns; when a partition moves to it, the events of
// that partition that another instance scored in the meantime — history
// rows of the partition past the last offset this engine took in, inside
// WarmSpan of its event time — are fed through the state in offset
// order, as WarmUp feeds its events: windows, profiles, trusted contexts,
// the offence ladder of the locks they set (counted once with the same
// locks read from the decisions topic) and the dedupe memory, so that a
// redelivered event is answered with the decision it got. An event the
// dedupe memory already holds is skipped. It does nothing without a
// WarmUp from a PartitionSource. A cancelled catch-up keeps what it
// applied, and a later one goes on from there.
func (e *Engine) CatchUp(ctx context.Context, partition int32) (CatchUpStats, error) {
	src, from := e.partitions.from(partition)
	st := CatchUpStats{Partition: partition, From: from, Next: from}
	if src == nil {
		return st, nil
	}
	var since time.Time
	if now := e.EventTime(); !now.IsZero() {
		since = now.Add(-WarmSpan)
	}
	var refused lockRefusals
	var f schemas.Features
	follow := func(_ *schemas.LoginEvent, d *schemas.Decision) error { return e.ApplyDecision(d) }
	err := src.PartitionEvents(ctx, partition, from, since, func(se schemas.ScoredEvent) error {
		if se.Event != nil {
			if _, known := e.recent.get(se.Event.EventID); known {
				st.Skipped++
				if se.Position.Kafka {
					e.partitions.applied(se.Position.Partition, se.Position.Offset)
				}
				return nil
			}
		}
		if e.warmEvent(se, &f, follow, &refused) {
			st.Events++
		}
		return nil
	})
	_, st.Next = e.partitions.from(partition)
	if st.LocksRefused = len(refused.keys); st.LocksRefused > 0 {
		e.log.Warn("catch-up refused locks from history", "partition", partition, "count", st.LocksRefused, "first_err", refused.first)
	}
	if err != nil {
		return st, fmt.Errorf("catching up partition %d from offset %d: %w", partition, from, err)
	}
	return st, nil
}

// Assigned implements PartitionAssignee: it catches the partition up
// (CatchUp) and logs what it applied.
func (e *Engine) Assigned(ctx context.Context, partition int) error {
	start := time.Now()
	st, err := e.CatchUp(ctx, int32(partition))
	if err != nil {
		return err
	}
	e.log.Info("partition caught up from history", "partition", partition, "from_offset", st.From, "next_offset", st.Next,
		"events", st.Events, "skipped", st.Skipped, "took", time.Since(start).Round(time.Microsecond))
	return nil
}
