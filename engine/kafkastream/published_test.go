package kafkastream

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestPublishedDecisions: a new process reads back, from a real broker,
// the decisions published at or after a time — its predecessor's and any
// other signer's under the same keys, with or without a lock — each
// decoded to the decision that encodes to the same bytes (a redelivered
// event is answered with it byte for byte); older ones only from the
// beginning (a zero time); and never an unsigned or forged message, which
// are counted.
func TestPublishedDecisions(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	predecessor, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer predecessor.Close()
	if err := predecessor.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 123_000_000, time.UTC)
	decision := func(id string, lock bool) *schemas.Decision {
		d := &schemas.Decision{EventID: id, UserID: "u-" + id, IP: "81.2.69.160", OccurredAt: at, DecidedAt: at.Add(time.Millisecond),
			Score: 10, Decision: schemas.VerdictAllow, RulesVersion: "v1", Reasons: []schemas.Reason{}}
		if lock {
			d.Score, d.Decision = 90, schemas.VerdictLockout
			d.Lock = &schemas.Lock{Scope: schemas.ScopeUserIP, Key: "u-" + id + "|81.2.69.160", Until: at.Add(10 * time.Minute), Rule: "credential_stuffing"}
			d.Reasons = []schemas.Reason{{Rule: "credential_stuffing", Weight: 90, Detail: "12 users failed from 81.2.69.160"}}
			d.Shadow = []schemas.ShadowHit{{Rule: "new_rule", Weight: 5}}
		}
		return d
	}
	encode := func(d *schemas.Decision) []byte {
		v, err := schemas.EncodeDecision(nil, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	writer := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DecisionsTopic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	old := time.Now().Add(-2 * time.Hour)
	testkit.Produce(ctx, t, writer, signed(t, testDecisionKeys[0], kafka.Message{Key: []byte("u-old"), Value: encode(decision("old", true)), Time: old})...)
	since := old.Add(time.Hour)
	recent := []*schemas.Decision{decision("plain", false), decision("locked", true)}
	if err := predecessor.PublishDecisions(ctx, recent); err != nil {
		t.Fatal(err)
	}
	testkit.Produce(ctx, t, writer,
		kafka.Message{Key: []byte("u-unsigned"), Value: encode(decision("unsigned", true))},
		kafka.Message{Key: []byte("u-forged"), Value: encode(decision("forged", false)), Headers: []kafka.Header{{Key: HeaderMACKey, Value: []byte(testDecisionKeys[0].ID)}, {Key: HeaderMAC, Value: bytes.Repeat([]byte("0"), macHexLen)}}},
	)

	restarted, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{name: "since an hour ago", since: since, want: []string{"locked", "plain"}},
		{name: "from the beginning", since: time.Time{}, want: []string{"locked", "old", "plain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := restarted.PublishedDecisions(ctx, tc.since, func(d *schemas.Decision) error {
				got = append(got, d.EventID)
				want := decision(d.EventID, d.EventID != "plain")
				if v := encode(d); !bytes.Equal(v, encode(want)) {
					t.Errorf("decision %s read back encodes to\n%s\nwant\n%s", d.EventID, v, encode(want))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("read back %v, want %v", got, tc.want)
			}
		})
	}
	m := restarted.Metrics()
	if m.DecisionsUnsigned.Load() != 2 || m.DecisionsBadMAC.Load() != 2 {
		t.Errorf("counted %d unsigned and %d with a bad MAC over the two read-backs, want 2 each", m.DecisionsUnsigned.Load(), m.DecisionsBadMAC.Load())
	}
}
