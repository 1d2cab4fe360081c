package engine

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is how Retry waits between attempts: Min after the first
// failure, doubled after each further one up to Max. With Jitter each wait
// is drawn from [wait/2, wait], which spreads the retries of several
// instances.
type Backoff struct {
	Min, Max time.Duration
	Jitter   bool
}

// Retry calls fn (attempt counts from 1) until it returns nil or ctx
// ends, waiting per b between failures. It returns nil once fn succeeds,
// or fn's last error when ctx ended: after a failure ctx is checked
// before waiting, so fn can tell a failure caused by the end of ctx
// (ctx.Err() is set) from one worth logging. Retry is the one
// retry-with-backoff loop of the engine and its adapters.
func Retry(ctx context.Context, b Backoff, fn func(attempt int) error) error {
	wait := b.Min
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		sleep := wait
		if b.Jitter {
			sleep = wait/2 + rand.N(wait/2+1)
		}
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(wait*2, b.Max)
	}
}

// Every calls fn every interval until ctx ends, the first time one
// interval after the call; it returns when ctx ends, with no call after. It is the one
// periodic loop of the engine's adapters (sweeps, summaries, flushes).
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ctx.Err() != nil { // both were ready: the end wins
				return
			}
			fn()
		}
	}
}
