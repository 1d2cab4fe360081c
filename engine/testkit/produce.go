package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Produce writes msgs with w, retrying for up to 30 s: a topic just
// created may not be known to every broker yet. It fails the test with
// the last error.
func Produce(ctx context.Context, t testing.TB, w *kafka.Writer, msgs ...kafka.Message) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("producing to %s: %v", w.Topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
