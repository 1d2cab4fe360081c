// Package offline scores a finite stream of login events through one or
// more engines, in the stream's order, with event time as the only clock:
// the code path of `loginrisk replay`, shared by `eval` and `backtest` so
// that all three decide exactly alike. It reads NDJSON files; other
// sources (ClickHouse history) implement Source in their adapter.
package offline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// Source yields events in the order they are to be scored. Next fills ev
// and returns io.EOF after the last one. An event the source cannot read
// is its own business (NDJSON reports and skips it); Reject is told about
// an event the engines refused, so that the report can say where it was.
type Source interface {
	Next(ctx context.Context, ev *schemas.LoginEvent) error
	Reject(err error)
}

// Sweeper is the part of an engine's state that the run sweeps by event
// time; state.Store implements it.
type Sweeper interface{ Sweep(now time.Time) int }

// Lane is one engine and the state it owns. Each lane of a Run sees every
// event, so lanes with different rule sets can be compared decision by
// decision.
type Lane struct {
	Engine *engine.Engine
	State  Sweeper
}

// SweepEvery is how many events a run scores between two sweeps of idle
// state and expired locks (by the newest event time seen).
const SweepEvery = 200_000

// lockRetention is how long an expired lock's offence count is kept
// by the sweep, as the daemon keeps it.
const lockRetention = 48 * time.Hour

// Visit receives each scored event: the event and, per lane in order, its
// outcome. The outcomes refer to reused buffers: they are valid only
// during the call.
type Visit func(ev *schemas.LoginEvent, outcomes []engine.Scored) error

// Stats counts a run's events.
type Stats struct {
	Events   int // scored by every lane
	Rejected int // refused by the engines (told to the source)
}

// Run scores every event of src through every lane and hands the outcomes
// to visit. An event refused by the first lane (validation) is refused
// by all, since validation does not depend on the rules.
func Run(ctx context.Context, src Source, lanes []Lane, visit Visit) (Stats, error) {
	var st Stats
	if len(lanes) == 0 {
		return st, errors.New("offline: no engine to score with")
	}
	var ev schemas.LoginEvent
	feats := make([]schemas.Features, len(lanes))
	outcomes := make([]engine.Scored, len(lanes))
	var newest time.Time
	for {
		err := src.Next(ctx, &ev)
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if st.Events%65536 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		rejected := false
		for i, l := range lanes {
			// ScoreInto keeps neither the event nor the features:
			// both are reused for the next event.
			out, err := l.Engine.ScoreInto(&ev, &feats[i], false)
			if err != nil {
				if i > 0 {
					return st, fmt.Errorf("event %s: lane %d refused what lane 0 scored: %w", ev.EventID, i, err)
				}
				src.Reject(err)
				st.Rejected++
				rejected = true
				break
			}
			outcomes[i] = out
		}
		if rejected {
			continue
		}
		st.Events++
		if err := visit(&ev, outcomes); err != nil {
			return st, err
		}
		if ev.OccurredAt.After(newest) {
			newest = ev.OccurredAt
		}
		if st.Events%SweepEvery == 0 {
			for _, l := range lanes {
				l.State.Sweep(newest)
				l.Engine.Locks().Sweep(newest, lockRetention)
			}
		}
	}
}
