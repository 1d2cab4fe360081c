package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// LiveConfig shapes Live.
type LiveConfig struct {
	Duration    time.Duration // how long to publish
	Rate, Users int           // events per second; ordinary users
	Seed        uint64
	// MalformedEvery adds a malformed event (an invalid address) at the
	// start and every MalformedEvery events, to show the dead-letter
	// path; 0 adds none.
	MalformedEvery int64
	// Sent, when set, is called after each batch is acknowledged with the
	// batch's time, how many messages it held and how many of them were
	// malformed.
	Sent func(now time.Time, messages, malformed int)
}

// Live publishes the generator's traffic to w in real time: every 50 ms a
// batch of Rate/20 events timed now, keyed by user_id, for Duration or
// until ctx ends (then it returns ctx.Err()).
func Live(ctx context.Context, w *kafka.Writer, cfg LiveConfig) error {
	gen := New(Config{Users: cfg.Users, Seed: cfg.Seed})
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	perTick := max(cfg.Rate/20, 1)
	var buf []byte
	var produced int64
	for time.Since(start) < cfg.Duration {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			msgs := make([]kafka.Message, 0, perTick+1)
			for range perTick {
				ev := gen.Next(now)
				buf = EncodeEvent(buf[:0], &ev)
				msgs = append(msgs, kafka.Message{Key: []byte(ev.UserID), Value: append([]byte(nil), buf[:len(buf)-1]...)})
			}
			malformed := 0
			if every := cfg.MalformedEvery; every > 0 && (produced == 0 || produced/every != (produced+int64(len(msgs)))/every) {
				msgs = append(msgs, kafka.Message{Key: []byte("mallory"), Value: []byte(`{"event_id":"bad-` +
					fmt.Sprint(produced) + `","occurred_at":"2026-01-01T00:00:00Z","user_id":"mallory","outcome":"failure","ip":"999.1.1.1"}`)})
				malformed = 1
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return err
			}
			produced += int64(len(msgs))
			if cfg.Sent != nil {
				cfg.Sent(now, len(msgs), malformed)
			}
		}
	}
	return nil
}
