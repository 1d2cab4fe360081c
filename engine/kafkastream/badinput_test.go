package kafkastream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestStreamBadInputCorpus produces every message of testdata/badinput to
// a real broker, each followed by a good event on the same partition, runs
// the stream and asserts that every bad message is on the dead-letter topic
// with headers naming its field, that the duplicate is scored once and
// never dead-lettered, and that every good event after a bad one is
// decided.
//
// A message over the broker's message.max.bytes (about 1 MB by default)
// is refused to the producer; to see what the engine does when one gets
// through, the events topic here allows 4 MiB. The engine dead-letters it
// naming its size, cut to MaxDeadLetterValue so that the dead-letter topic
// (default limit) takes it.
func TestStreamBadInputCorpus(t *testing.T) {
	ctx, brokers, real := testkit.KafkaContext(t, 3*time.Minute)

	name := testkit.Name("badinput")
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 15 * time.Second}
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: name + "-events", NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: "4194304"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	stream, eng := newScoringStream(ctx, t, brokers, name, 2)

	// One key, so one partition and the order below.
	const key = "badinput-user"
	var msgs []kafka.Message
	send := func(value []byte) { msgs = append(msgs, kafka.Message{Key: []byte(key), Value: value}) }
	good := func(id string) []byte {
		ev := schemas.LoginEvent{EventID: id, OccurredAt: time.Now().UTC().Add(-time.Minute), UserID: key,
			Outcome: schemas.OutcomeSuccess, IP: "198.51.100.24", UserAgent: "Mozilla/5.0"}
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var rejected []testkit.BadInputCase
	var refused []testkit.BadInputCase
	var scoredIDs, goodIDs []string
	duplicateID := ""
	for _, c := range testkit.BadInput(t, time.Now()) {
		if c.Kafka == "refused" {
			refused = append(refused, c)
		}
		switch c.Expect {
		case "reject":
			rejected = append(rejected, c)
			send(c.Message)
		case "score":
			scoredIDs = append(scoredIDs, eventID(t, c.Message))
			send(c.Message)
		case "duplicate":
			duplicateID = eventID(t, c.Message)
			send(c.Message)
			send(c.Message)
		default:
			t.Fatalf("%s: unknown expect %q", c.File, c.Expect)
		}
		id := "good-after-" + c.Name()
		goodIDs = append(goodIDs, id)
		send(good(id))
	}
	if duplicateID == "" || len(refused) == 0 || len(rejected) < 20 {
		t.Fatalf("the corpus lacks cases: duplicate %q, %d refused, %d rejected", duplicateID, len(refused), len(rejected))
	}

	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: name + "-events", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 4 << 20}
	defer w.Close()
	testkit.Produce(ctx, t, w, msgs...)
	// On a topic with the broker's default limit (the dead-letter topic),
	// messages over message.max.bytes never reach a consumer: the producer
	// is told so.
	for _, c := range refused {
		assertRefused(ctx, t, brokers, name+"-dlq", real, kafka.Message{Key: []byte(key), Value: c.Message})
	}

	stopRun := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, eng) })
	// Every good event, the scored ones, and the duplicate twice: the
	// engine answers a known event_id with its earlier decision.
	wantDecisions := len(goodIDs) + len(scoredIDs) + 2
	decisions := readMessages(ctx, t, brokers, name+"-decisions", wantDecisions)
	dead := readMessages(ctx, t, brokers, name+"-dlq", len(rejected))
	if err := stopRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	byID := map[string][][]byte{}
	for _, m := range decisions {
		byID[eventID(t, m.Value)] = append(byID[eventID(t, m.Value)], m.Value)
	}
	for _, id := range append(goodIDs, scoredIDs...) {
		if len(byID[id]) != 1 {
			t.Errorf("%d decisions for %s, want 1", len(byID[id]), id)
		}
	}
	if d := byID[duplicateID]; len(d) != 2 || !bytes.Equal(d[0], d[1]) {
		t.Errorf("decisions for the duplicate %s: %q, want the same decision twice", duplicateID, d)
	}
	m := eng.Metrics()
	if got, want := m.EventsTotal.Load(), int64(len(goodIDs)+len(scoredIDs)+1); got != want {
		t.Errorf("the engine scored %d events, want %d (the duplicate once)", got, want)
	}
	if got := m.DuplicatesTotal.Load(); got != 1 {
		t.Errorf("%d duplicates, want 1", got)
	}

	for _, dm := range dead {
		h := headers(dm)
		// The dead-letter copy is the message without its password_fp
		// (schemas.RedactPasswordFP), which the copy never carries.
		if bytes.Contains(dm.Value, []byte(`"password_fp"`)) {
			t.Errorf("dead-lettered a password_fp: %.200q", dm.Value)
		}
		i := slices.IndexFunc(rejected, func(c testkit.BadInputCase) bool {
			want, cut := schemas.RedactPasswordFP(c.Message)
			if (h[kafkastream.HeaderRedacted] != "") != cut {
				return false
			}
			if len(want) > kafkastream.MaxDeadLetterValue {
				return bytes.HasPrefix(want, dm.Value) && len(dm.Value) == kafkastream.MaxDeadLetterValue &&
					h[kafkastream.HeaderTruncated] == strconv.Itoa(len(want))
			}
			return bytes.Equal(want, dm.Value) && h[kafkastream.HeaderTruncated] == ""
		})
		if i < 0 {
			t.Errorf("dead-lettered a message that is not a rejected case: %.200q (headers %v)", dm.Value, h)
			continue
		}
		c := rejected[i]
		rejected = slices.Delete(rejected, i, i+1)
		if h[kafkastream.HeaderField] != c.Field {
			t.Errorf("%s: field header %q (error %q), want %q", c.File, h[kafkastream.HeaderField], h[kafkastream.HeaderError], c.Field)
		}
		if !strings.Contains(h[kafkastream.HeaderError], c.Error) {
			t.Errorf("%s: error header %q does not contain %q", c.File, h[kafkastream.HeaderError], c.Error)
		}
		if string(dm.Key) != key || h[kafkastream.HeaderTopic] != name+"-events" || h[kafkastream.HeaderOffset] == "" {
			t.Errorf("%s: key %q headers %v lack the source", c.File, dm.Key, h)
		}
	}
	for _, c := range rejected {
		t.Errorf("%s was not dead-lettered", c.File)
	}
	if got := stream.Metrics().DeadLetteredTotal.Load(); got != int64(len(dead)) {
		t.Errorf("DeadLetteredTotal %d, want %d", got, len(dead))
	}
}

// assertRefused checks that a message over the broker's limit is refused
// with a clear error: kafka-go's Writer refuses it before sending when it
// is over BatchBytes (1 MiB by default), and the broker answers
// MESSAGE_TOO_LARGE when the writer lets it through.
func assertRefused(ctx context.Context, t *testing.T, brokers []string, topic string, real bool, m kafka.Message) {
	t.Helper()
	dflt := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll}
	defer dflt.Close()
	big := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchBytes: 4 << 20}
	defer big.Close()
	var tooLarge kafka.MessageTooLargeError
	if err := dflt.WriteMessages(ctx, m); !errors.As(err, &tooLarge) {
		t.Errorf("a %d-byte message with kafka-go's default BatchBytes: %v, want a MessageTooLargeError", len(m.Value), err)
	}
	if !real {
		return // the in-process broker has no message.max.bytes
	}
	var err error
	for attempt := 0; attempt < 30; attempt++ { // the topic may not be known everywhere yet
		err = big.WriteMessages(ctx, m)
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == 1 {
			err = werrs[0]
		}
		if !errors.Is(err, kafka.UnknownTopicOrPartition) {
			break
		}
		time.Sleep(time.Second)
	}
	if !errors.Is(err, kafka.MessageSizeTooLarge) {
		t.Errorf("a %d-byte message to the broker: %v, want MESSAGE_TOO_LARGE", len(m.Value), err)
	}
}

// eventID reads the event_id of an event or a decision without validating
// anything else.
func eventID(t *testing.T, value []byte) string {
	t.Helper()
	const k = `"event_id":"`
	i := bytes.Index(value, []byte(k))
	if i < 0 {
		t.Fatalf("no event_id in %.200q", value)
	}
	rest := value[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		t.Fatalf("no event_id in %.200q", value)
	}
	return fmt.Sprint(string(rest[:j]))
}
