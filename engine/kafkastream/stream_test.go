package kafkastream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// repoPath resolves a path from the repository root.
func repoPath(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

// newScoringStream is a Stream in group name on the topics name-events,
// name-decisions and name-dlq (created with partitions partitions when
// missing), logging warnings to stderr and closed when the test ends,
// and an engine publishing its decisions and dead letters through it:
// the shipped rules, the test City database and serve's clock-skew
// bounds.
func newScoringStream(ctx context.Context, t *testing.T, brokers []string, name string, partitions int) (*kafkastream.Stream, *engine.Engine) {
	t.Helper()
	stream, err := kafkastream.New(kafkastream.Config{
		Brokers: brokers, GroupID: name, EventsTopic: name + "-events", DecisionsTopic: name + "-decisions",
		DLQTopic: name + "-dlq", Partitions: partitions,
		DecisionKeys: []kafkastream.DecisionKey{{ID: "test", Secret: []byte("stream-test-secret-0123456789abcdef")}},
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Close() })
	if err := stream.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	enr, err := enrich.NewEnricher(enrich.EnricherConfig{CityPath: repoPath("testdata/geoip/City-Test.mmdb")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enr.Close() })
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: enr, Recorder: engine.Recorder{Publisher: stream}, DLQ: stream, Clock: time.Now,
		MaxFutureSkew: 5 * time.Minute, MaxPastSkew: 24 * time.Hour})
	return stream, eng
}

type step struct {
	ev   schemas.LoginEvent
	raw  string // a raw (malformed) message instead of ev
	want func(t *testing.T, d schemas.Decision)
}

func addr(t *testing.T, city string, n int) string {
	t.Helper()
	a, ok := loadgen.CityAddr(city, n, false)
	if !ok {
		t.Fatalf("no test network for %s", city)
	}
	return a.String()
}

// TestStreamScriptedDecisions produces a scripted sequence into Kafka, runs
// the engine on it and asserts the decisions read back from the decisions
// topic, and the dead-letter topic.
func TestStreamScriptedDecisions(t *testing.T) {
	ctx, brokers, real := testkit.KafkaContext(t, 3*time.Minute)
	t.Logf("Kafka brokers %v (real broker: %v)", brokers, real)

	name := testkit.Name("scripted")
	stream, eng := newScoringStream(ctx, t, brokers, name, 3)

	base := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	london, attacker := addr(t, "London", 10), loadgen.HostingAddr(7).String()
	browser := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	ev := func(id string, at time.Time, user, ip string, ok bool, device string) schemas.LoginEvent {
		e := schemas.LoginEvent{EventID: id, OccurredAt: at, UserID: user, IP: ip, Outcome: schemas.OutcomeSuccess, UserAgent: browser, DeviceID: device}
		if !ok {
			e.Outcome, e.FailureReason = schemas.OutcomeFailure, "bad_password"
		}
		return e
	}
	is := func(v schemas.Verdict) func(*testing.T, schemas.Decision) {
		return func(t *testing.T, d schemas.Decision) {
			t.Helper()
			if d.Decision != v {
				t.Errorf("%s: decision %s, want %s (reasons %+v)", d.EventID, d.Decision, v, d.Reasons)
			}
		}
	}
	notLockout := func(t *testing.T, d schemas.Decision) {
		t.Helper()
		if d.Decision == schemas.VerdictLockout {
			t.Errorf("%s: lockout before the 5th failure (reasons %+v)", d.EventID, d.Reasons)
		}
	}
	var steps []step
	// alice's history: three logins from home.
	for i := range 3 {
		steps = append(steps, step{ev: ev(fmt.Sprintf("alice-ok-%d", i), base.Add(time.Duration(i)*time.Minute), "alice", london, true, "alice-laptop"), want: is(schemas.VerdictAllow)})
	}
	// A brute force on alice from one address: the 5th failure inside 15
	// minutes locks user_ip for 10 minutes.
	for i := range 5 {
		at := base.Add(5*time.Minute + time.Duration(i)*time.Minute)
		want := notLockout
		if i == 4 {
			want = func(t *testing.T, d schemas.Decision) {
				t.Helper()
				if d.Decision != schemas.VerdictLockout || d.Lock == nil {
					t.Fatalf("5th failure: decision %s lock %+v, want a lockout (reasons %+v)", d.Decision, d.Lock, d.Reasons)
				}
				if d.Lock.Scope != schemas.ScopeUserIP || d.Lock.Key != "alice|"+attacker {
					t.Errorf("lock %+v, want user_ip on alice|%s", d.Lock, attacker)
				}
				if got := d.Lock.Until.Sub(at); got != 10*time.Minute {
					t.Errorf("lock lasts %s, want 10m", got)
				}
				if !slices.ContainsFunc(d.Reasons, func(r schemas.Reason) bool { return r.Rule == "failure_burst" }) {
					t.Errorf("reasons %+v lack failure_burst", d.Reasons)
				}
			}
		}
		steps = append(steps, step{ev: ev(fmt.Sprintf("alice-bf-%d", i), at, "alice", attacker, false, ""), want: want})
	}
	// The attacker's next try is refused by the active lock; alice herself,
	// from home, is not.
	steps = append(steps,
		step{ev: ev("alice-bf-6", base.Add(11*time.Minute), "alice", attacker, false, ""), want: func(t *testing.T, d schemas.Decision) {
			t.Helper()
			if d.Decision != schemas.VerdictLockout || len(d.Reasons) == 0 || d.Reasons[len(d.Reasons)-1].Rule != schemas.ReasonLocked {
				t.Errorf("attempt during the lock: %s %+v, want lockout with reason locked", d.Decision, d.Reasons)
			}
		}},
		step{ev: ev("alice-home", base.Add(12*time.Minute), "alice", london, true, "alice-laptop"), want: is(schemas.VerdictAllow)},
	)
	// bob logs in from London yesterday, today from Tokyo: challenged for
	// the unfamiliar city.
	tokyo := addr(t, "Tokyo", 20)
	for i := range 3 {
		steps = append(steps, step{ev: ev(fmt.Sprintf("bob-ok-%d", i), base.Add(-20*time.Hour+time.Duration(i)*time.Minute), "bob", addr(t, "London", 30), true, "bob-phone"), want: is(schemas.VerdictAllow)})
	}
	steps = append(steps, step{ev: ev("bob-tokyo", base.Add(13*time.Minute), "bob", tokyo, true, "bob-phone"), want: func(t *testing.T, d schemas.Decision) {
		t.Helper()
		if d.Decision != schemas.VerdictChallenge {
			t.Errorf("first login from a new city: %s, want challenge (reasons %+v)", d.Decision, d.Reasons)
		}
		if !slices.ContainsFunc(d.Reasons, func(r schemas.Reason) bool { return r.Rule == "unfamiliar_city" }) {
			t.Errorf("reasons %+v lack unfamiliar_city", d.Reasons)
		}
	}})
	// A malformed message is dead-lettered; the next one on the same
	// partition (same key) is still scored.
	steps = append(steps,
		step{raw: `{"event_id":"bad-1","occurred_at":"` + base.Format(time.RFC3339) + `","user_id":"mallory","outcome":"failure","ip":"999.1.1.1"}`},
		step{ev: ev("mallory-ok", base.Add(14*time.Minute), "mallory", london, true, "m-1"), want: is(schemas.VerdictAllow)},
	)

	// Produce in order, keyed by user_id.
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: name + "-events", Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	wantDecisions := 0
	for _, s := range steps {
		if s.raw != "" {
			msgs = append(msgs, kafka.Message{Key: []byte("mallory"), Value: []byte(s.raw)})
			continue
		}
		b, _ := json.Marshal(s.ev)
		msgs = append(msgs, kafka.Message{Key: []byte(s.ev.UserID), Value: b})
		wantDecisions++
	}
	testkit.Produce(ctx, t, w, msgs...)

	stopRun := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, eng) })
	got := readDecisions(ctx, t, brokers, name+"-decisions", wantDecisions)
	if err := stopRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, s := range steps {
		if s.raw != "" {
			continue
		}
		d, ok := got[s.ev.EventID]
		if !ok {
			t.Errorf("no decision for %s", s.ev.EventID)
			continue
		}
		s.want(t, d)
	}

	dlq := readMessages(ctx, t, brokers, name+"-dlq", 1)
	h := headers(dlq[0])
	if !strings.Contains(h[kafkastream.HeaderError], `ip: "999.1.1.1" is not an IP address`) || h[kafkastream.HeaderField] != "ip" {
		t.Errorf("dead-letter headers %v, want the ip error", h)
	}
	if string(dlq[0].Value) != steps[len(steps)-2].raw {
		t.Errorf("dead-lettered value %q is not the original message", dlq[0].Value)
	}
}

// TestStreamReusedEventIDDeadLettered is issue 16.3 on Kafka: mallory's
// success with event_id dup-x, then six failures for victim under the same
// id, then a good event, on one partition. The six are dead-lettered with
// field event_id and a reason naming the differing field — none gets
// mallory's allow — and the partition moves on to the good event.
func TestStreamReusedEventIDDeadLettered(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 2*time.Minute)
	name := testkit.Name("conflict")
	stream, eng := newScoringStream(ctx, t, brokers, name, 1)

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

	stopRun := testkit.Start(ctx, func(ctx context.Context) error { return stream.Run(ctx, eng) })
	decisions := readDecisions(ctx, t, brokers, name+"-decisions", 2)
	dead := readMessages(ctx, t, brokers, name+"-dlq", 6)
	if err := stopRun(); err != nil {
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

func headers(m kafka.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

// readMessages reads n messages from every partition of topic.
func readMessages(ctx context.Context, t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: testkit.Name("reader"), Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("read %d of %d messages from %s before the deadline", len(out), n, topic)
			}
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// readDecisions reads n decisions and indexes them by event_id.
func readDecisions(ctx context.Context, t *testing.T, brokers []string, topic string, n int) map[string]schemas.Decision {
	t.Helper()
	out := map[string]schemas.Decision{}
	for _, m := range readMessages(ctx, t, brokers, topic, n) {
		var d schemas.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatalf("decision %q: %v", m.Value, err)
		}
		if string(m.Key) != d.UserID {
			t.Errorf("decision %s keyed %q, want user_id %q", d.EventID, m.Key, d.UserID)
		}
		out[d.EventID] = d
	}
	return out
}
