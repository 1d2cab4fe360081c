package kafkastream_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestStreamReusedEventIDDeadLettered is issue 16.3 on Kafka: mallory's
// success with event_id dup-x, then six failures for victim under the same
// id, then a good event, on one partition. The six are dead-lettered with
// field event_id and a reason naming the differing field — none gets
// mallory's allow — and the partition moves on to the good event.
func TestStreamReusedEventIDDeadLettered(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := testkit.Name("conflict")
	stream := newNamedStream(t, brokers, name, 1)
	defer stream.Close()
	if err := stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, engine.Recorder{Publisher: stream}, stream)

	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	msg := func(id, user, outcome string, at time.Time) kafka.Message {
		ev := schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: user, Outcome: schemas.Outcome(outcome), IP: "198.51.100.24", UserAgent: "Mozilla/5.0"}
		if outcome == "failure" {
			ev.FailureReason = "bad_password"
		}
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Message{Key: []byte(user), Value: b}
	}
	msgs := []kafka.Message{msg("dup-x", "mallory", "success", at)}
	for i := range 6 {
		msgs = append(msgs, msg("dup-x", "victim", "failure", at.Add(time.Duration(i+1)*time.Second)))
	}
	msgs = append(msgs, msg("after", "victim", "failure", at.Add(time.Minute)))
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: name + "-events", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	testkit.Produce(ctx, t, w, msgs...)

	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- stream.Run(runCtx, eng) }()
	decisions := readDecisions(ctx, t, brokers, name+"-decisions", 2)
	dead := readMessages(ctx, t, brokers, name+"-dlq", 6)
	stopRun()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := decisions["dup-x"]; d.UserID != "mallory" || d.Decision != schemas.VerdictAllow {
		t.Errorf("dup-x's decision %+v, want mallory's allow", d)
	}
	if d, ok := decisions["after"]; !ok || d.UserID != "victim" {
		t.Errorf("the event after the conflicts was not decided: %+v", decisions)
	}
	for i, m := range dead {
		h := headers(m)
		if h[kafkastream.HeaderField] != "event_id" || !strings.Contains(h[kafkastream.HeaderError], "user_id differs") || string(m.Key) != "victim" {
			t.Errorf("dead letter %d: key %q headers %v; want victim's event with field event_id and a reason naming user_id", i, m.Key, h)
		}
	}
	if got := eng.Metrics().ConflictsTotal.Load(); got != 6 {
		t.Errorf("ConflictsTotal = %d, want 6", got)
	}
}
