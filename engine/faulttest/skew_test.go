package faulttest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// TestClockSkewDeadLettered checks serve's clock-skew policy end to end:
// an event more than 24 h behind or 5 min ahead of the engine's clock is
// dead-lettered with the field occurred_at and never scored, stored or
// counted, while events just inside both bounds are decided and stored
// like any other.
func TestClockSkewDeadLettered(t *testing.T) {
	svc, seed := startFaultTest(t)
	const n = 2000
	f := newFixture(t, svc.brokers, svc.dsn, serveConfig{})
	es := generateEvents(t, n, seed)
	now := time.Now().UTC()
	retime := func(i int, at time.Time) {
		es.events[i].OccurredAt = at
		b, err := json.Marshal(&es.events[i])
		if err != nil {
			t.Fatal(err)
		}
		es.lines[i] = b
	}
	// Just inside the bounds: scored.
	retime(n/3, now.Add(-23*time.Hour))
	retime(2*n/3, now.Add(4*time.Minute))
	// Outside: dead-lettered.
	skewed := map[string]string{"skew-past": "behind", "skew-future": "ahead"}
	var msgs []kafka.Message
	for id, at := range map[string]time.Time{"skew-past": now.Add(-25 * time.Hour), "skew-future": now.Add(10 * time.Minute)} {
		ev := es.events[n/2]
		ev.EventID, ev.OccurredAt = id, at
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(ev.UserID), Value: b})
	}
	f.produceAll(es)
	w := newProducer(f.brokers, f.eventsTopic)
	if err := w.WriteMessages(f.ctx(time.Minute), msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	p := f.startServe()
	f.waitComplete(p, n, 2*time.Minute)
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM (took %s)", code, took)
	}
	f.wantDLQ = int64(len(skewed))
	f.checkComplete(es)

	dlq, err := f.readTopic(f.ctx(time.Minute), f.dlqTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range dlq {
		var ev struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(m.Value, &ev)
		h := map[string]string{}
		for _, kv := range m.Headers {
			h[kv.Key] = string(kv.Value)
		}
		t.Logf("dead-lettered %s: %s=%q %s=%q", ev.EventID, kafkastream.HeaderField, h[kafkastream.HeaderField], kafkastream.HeaderError, h[kafkastream.HeaderError])
		word, ok := skewed[ev.EventID]
		if !ok {
			t.Errorf("dead-lettered %s, which is within the accepted skew", ev.EventID)
			continue
		}
		delete(skewed, ev.EventID)
		if h[kafkastream.HeaderField] != "occurred_at" || !strings.Contains(h[kafkastream.HeaderError], word) {
			t.Errorf("%s dead-lettered with field %q and error %q; want field occurred_at and an error saying %q", ev.EventID, h[kafkastream.HeaderField], h[kafkastream.HeaderError], word)
		}
	}
	for id := range skewed {
		t.Errorf("%s was not dead-lettered", id)
	}
}
