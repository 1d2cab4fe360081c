package kafkastream

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/engine/testkit/syncbuf"
	"github.com/loginrisk/loginrisk/schemas"
)

// testDecisionKeys sign and verify the decisions of the tests' streams.
var testDecisionKeys = []DecisionKey{{ID: "test", Secret: []byte("kafkastream-test-secret-0123456789")}}

// signed returns the messages with the MAC headers of key, as a process
// holding that key would publish them.
func signed(t testing.TB, key DecisionKey, msgs ...kafka.Message) []kafka.Message {
	t.Helper()
	sg, err := newSigner([]DecisionKey{key})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		h := sg.headers(sg.sign(nil, m.Key, m.Value))
		m.Headers = append(slices.Clone(m.Headers), h[:]...)
		out[i] = m
	}
	return out
}

// TestSignerVerify pins what verifies and what does not, without a
// broker: every alteration of a signed message, and every way of leaving
// the MAC out, is refused with the error a caller counts.
func TestSignerVerify(t *testing.T) {
	old := DecisionKey{ID: "2026-06", Secret: []byte("the-old-secret-of-thirty-two-bytes!")}
	cur := DecisionKey{ID: "2026-12", Secret: []byte("the-current-secret-32-bytes-long!!")}
	key, value := []byte("alice"), []byte(`{"event_id":"e1","lock":{"scope":"user","key":"alice"}}`)
	good := signed(t, cur, kafka.Message{Key: key, Value: value})[0]
	byOld := signed(t, old, kafka.Message{Key: key, Value: value})[0]
	wrongSecret := signed(t, DecisionKey{ID: cur.ID, Secret: []byte("an-attacker-guess-of-32-bytes....")}, kafka.Message{Key: key, Value: value})[0]
	header := func(m kafka.Message, name string) []byte {
		for _, h := range m.Headers {
			if h.Key == name {
				return h.Value
			}
		}
		return nil
	}
	flipped := slices.Clone(header(good, HeaderMAC)) // another hex digit first
	if flipped[0] == '0' {
		flipped[0] = '1'
	} else {
		flipped[0] = '0'
	}
	tests := []struct {
		name     string
		keys     []DecisionKey
		headers  []kafka.Header
		key, val []byte
		want     error // nil: verifies
	}{
		{"signed with the current key", []DecisionKey{cur, old}, good.Headers, key, value, nil},
		{"signed with the old key, still accepted", []DecisionKey{cur, old}, byOld.Headers, key, value, nil},
		{"signed with the old key, no longer accepted", []DecisionKey{cur}, byOld.Headers, key, value, ErrBadMAC},
		{"no headers", []DecisionKey{cur}, nil, key, value, ErrUnsigned},
		{"only the instance header", []DecisionKey{cur}, []kafka.Header{{Key: HeaderInstance, Value: []byte("x")}}, key, value, ErrUnsigned},
		{"value altered", []DecisionKey{cur}, good.Headers, key, append(slices.Clone(value), ' '), ErrBadMAC},
		{"key altered (replayed under another user)", []DecisionKey{cur}, good.Headers, []byte("bob"), value, ErrBadMAC},
		{"key and value split elsewhere", []DecisionKey{cur}, good.Headers, []byte("alice{"), value[1:], ErrBadMAC},
		{"wrong secret under a known id", []DecisionKey{cur}, wrongSecret.Headers, key, value, ErrBadMAC},
		{"MAC altered", []DecisionKey{cur}, []kafka.Header{{Key: HeaderMACKey, Value: []byte(cur.ID)}, {Key: HeaderMAC, Value: flipped}}, key, value, ErrBadMAC},
		{"MAC not hex", []DecisionKey{cur}, []kafka.Header{{Key: HeaderMACKey, Value: []byte(cur.ID)}, {Key: HeaderMAC, Value: []byte(strings.Repeat("z", macHexLen))}}, key, value, ErrBadMAC},
		{"MAC truncated", []DecisionKey{cur}, []kafka.Header{{Key: HeaderMACKey, Value: []byte(cur.ID)}, {Key: HeaderMAC, Value: header(good, HeaderMAC)[:10]}}, key, value, ErrBadMAC},
		{"MAC without key id", []DecisionKey{cur}, []kafka.Header{{Key: HeaderMAC, Value: header(good, HeaderMAC)}}, key, value, ErrBadMAC},
		{"MAC given twice", []DecisionKey{cur}, append(slices.Clone(good.Headers), kafka.Header{Key: HeaderMAC, Value: header(good, HeaderMAC)}), key, value, ErrBadMAC},
		{"unknown key id", []DecisionKey{cur}, []kafka.Header{{Key: HeaderMACKey, Value: []byte("nope")}, {Key: HeaderMAC, Value: header(good, HeaderMAC)}}, key, value, ErrBadMAC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sg, err := newSigner(tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			err = sg.verify(tc.headers, tc.key, tc.val)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestValidateDecisionKeys: no key, a short secret, a bad or repeated id
// are refused naming the field.
func TestValidateDecisionKeys(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name string
		keys []DecisionKey
		want string // "" = valid
	}{
		{"one key", []DecisionKey{{ID: "k1", Secret: secret}}, ""},
		{"two keys", []DecisionKey{{ID: "k1", Secret: secret}, {ID: "k0", Secret: secret}}, ""},
		{"none", nil, "kafka.decision_keys: at least one key is required"},
		{"short secret", []DecisionKey{{ID: "k1", Secret: secret[:31]}}, "kafka.decision_keys[0].secret: 31 bytes, at least 32"},
		{"empty id", []DecisionKey{{ID: "", Secret: secret}}, "kafka.decision_keys[0].id"},
		{"id with a colon", []DecisionKey{{ID: "a:b", Secret: secret}}, "kafka.decision_keys[0].id"},
		{"repeated id", []DecisionKey{{ID: "k1", Secret: secret}, {ID: "k1", Secret: secret}}, `kafka.decision_keys[1].id: "k1" is also the id of kafka.decision_keys[0]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateDecisionKeys(tc.keys)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("ValidateDecisionKeys = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Brokers: []string{"127.0.0.1:9092"}}); err == nil || !strings.Contains(err.Error(), "kafka.decision_keys") {
		t.Errorf("New without decision keys = %v, want an error naming kafka.decision_keys", err)
	}
}

// newClockedEngine is an engine as serve builds it, recording through
// rec: the shipped rules (longest lock 24 h), a wall clock and a
// five-minute future skew.
func newClockedEngine(t *testing.T, rec engine.Recorder) *engine.Engine {
	t.Helper()
	eng, _ := testkit.Engine(t, "", engine.Config{Recorder: rec, Clock: time.Now, MaxFutureSkew: 5 * time.Minute, MaxPastSkew: 24 * time.Hour})
	return eng
}

// following runs s's follower into eng until the test ends or the
// returned function, which waits for it, is called.
func following(ctx context.Context, t *testing.T, s *Stream, eng *engine.Engine) (stop func()) {
	t.Helper()
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.FollowDecisions(fctx, time.Now().Add(-time.Hour), eng.ApplyDecision); err != nil {
			t.Errorf("FollowDecisions: %v", err)
		}
	})
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond for up to 60 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %s", what)
		}
	}
}

// lockDecision is a decision locking the user user from at until until.
func lockDecision(id, user string, at, until time.Time, rule string) *schemas.Decision {
	return &schemas.Decision{EventID: id, UserID: user, IP: "203.0.113.9", OccurredAt: at, DecidedAt: at, Score: 100,
		Decision: schemas.VerdictLockout, Reasons: []schemas.Reason{{Rule: rule, Weight: 100}}, RulesVersion: "x",
		Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: user, Until: until, Rule: rule}}
}

// encoded is d as a message on the decisions topic, without headers.
func encoded(t *testing.T, d *schemas.Decision) kafka.Message {
	t.Helper()
	v, err := schemas.EncodeDecision(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Key: []byte(d.UserID), Value: v}
}

// locksOn returns the locks that refuse user now on eng.
func locksOn(eng *engine.Engine, user string) []schemas.Lock {
	return eng.UserStatus("", user, time.Now()).Locks
}

// TestForgedDecisionsAreNotApplied is the attack of issue 16: someone who
// can write to the decisions topic, but holds no decision key, publishes
// locks (one until the year 9999, one within the ladder) and a lift,
// unsigned or signed with a guessed secret. On the real broker, the
// follower of an instance must apply none of them and count each, while
// it applies a genuine decision published after them on the same
// partition (so it did read past them).
func TestForgedDecisionsAreNotApplied(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.Partitions = 1 // one partition: the genuine decision comes after the forged ones
	victim, lifted, control := "victim@example.com", "locked@example.com", "control@example.com"

	genuine := newStreamWithTopics(ctx, t, cfg) // another instance, holding the key
	var logged syncbuf.Buffer
	followerCfg := cfg
	followerCfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	follower := newStream(t, followerCfg)
	eng := newClockedEngine(t, engine.Recorder{})
	stopFollowing := following(ctx, t, follower, eng)

	now := time.Now().UTC()
	// A genuine lock on lifted, which the forged lift must not lift.
	if err := genuine.PublishDecisions(ctx, []*schemas.Decision{lockDecision("real-lock", lifted, now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the genuine lock was not applied", func() bool { return len(locksOn(eng, lifted)) == 1 })

	forgedLift := &schemas.Decision{EventID: "forged-lift", UserID: lifted, OccurredAt: now, DecidedAt: now, Decision: schemas.VerdictAllow,
		Reasons: []schemas.Reason{{Rule: engine.AdminLiftRule}}, Lock: &schemas.Lock{Scope: schemas.ScopeUser, Key: lifted, Until: now.Add(time.Second), Rule: engine.AdminLiftRule}}
	guessed := DecisionKey{ID: testDecisionKeys[0].ID, Secret: []byte("not-the-secret-but-32-bytes-long!!")}
	forged := []kafka.Message{
		encoded(t, lockDecision("forged-9999", victim, now, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "failure_burst")),
		encoded(t, lockDecision("forged-1h", victim, now, now.Add(time.Hour), "failure_burst")),
		encoded(t, forgedLift),
	}
	// Each forged message once unsigned and once with a guessed secret
	// under the real key id; the instance header of the genuine
	// publisher does not help.
	var attack []kafka.Message
	for _, m := range forged {
		m.Headers = []kafka.Header{{Key: HeaderInstance, Value: genuine.instance[0].Value}}
		attack = append(attack, m)
	}
	attack = append(attack, signed(t, guessed, forged...)...)
	writer := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DecisionsTopic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	testkit.Produce(ctx, t, writer, attack...)
	if err := genuine.PublishDecisions(ctx, []*schemas.Decision{lockDecision("control", control, now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the genuine decision after the forged ones was not applied", func() bool { return len(locksOn(eng, control)) == 1 })

	if l := locksOn(eng, victim); len(l) != 0 {
		t.Errorf("forged locks applied: %s is locked by %+v", victim, l)
	}
	if l := locksOn(eng, lifted); len(l) != 1 || l[0].Rule != "failure_burst" {
		t.Errorf("a forged lift lifted the genuine lock on %s: locks %+v", lifted, l)
	}
	m := follower.Metrics()
	if got := m.DecisionsUnsigned.Load(); got != 3 {
		t.Errorf("DecisionsUnsigned = %d, want 3", got)
	}
	if got := m.DecisionsBadMAC.Load(); got != 3 {
		t.Errorf("DecisionsBadMAC = %d, want 3", got)
	}
	if got := m.DecisionsFollowed.Load(); got != 2 {
		t.Errorf("DecisionsFollowed = %d, want 2 (the two genuine locks)", got)
	}
	if got := m.DecisionsRefused.Load(); got != 0 {
		t.Errorf("DecisionsRefused = %d, want 0", got)
	}
	// The six drops are one warning with their count (the report comes
	// once a minute, and when the follower stops), not six lines.
	stopFollowing()
	out := logged.String()
	if n := strings.Count(out, "were not applied"); n != 1 || !strings.Contains(out, "count=6") || !strings.Contains(out, "unsigned_total=3") || !strings.Contains(out, "bad_mac_total=3") {
		t.Errorf("want one warning with count=6, unsigned_total=3 and bad_mac_total=3; the log:\n%s", out)
	}
}

// TestSignedOverlongLockIsRefused: a decision signed with a valid key,
// whose lock lasts longer than the policy's longest lock (24 h with the
// shipped rules) or starts far ahead of the clock, is still refused and
// counted, while a lock of exactly the longest is applied. It is what
// bounds a leaked key, or a bug, to locks this policy could have set.
func TestSignedOverlongLockIsRefused(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.Partitions = 1
	publisher, follower := newStreamWithTopics(ctx, t, cfg), newStream(t, cfg)
	eng := newClockedEngine(t, engine.Recorder{})
	following(ctx, t, follower, eng)

	now := time.Now().UTC()
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	refused := []*schemas.Decision{
		lockDecision("until-9999", "u-9999", now, far, "failure_burst"),
		lockDecision("25h", "u-25h", now, now.Add(25*time.Hour), "failure_burst"),
		// Within the ladder, but set in the year 9999.
		lockDecision("ahead", "u-ahead", far.Add(-time.Hour), far, "failure_burst"),
		lockDecision("long-rule", "u-rule", now, now.Add(time.Hour), strings.Repeat("r", schemas.MaxRuleLen+1)),
		lockDecision("long-key", strings.Repeat("k", schemas.MaxUserIDLen+1), now, now.Add(time.Hour), "failure_burst"),
	}
	if err := publisher.PublishDecisions(ctx, append(refused, lockDecision("24h", "u-24h", now, now.Add(24*time.Hour), "failure_burst"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 24 h lock was not applied", func() bool { return len(locksOn(eng, "u-24h")) == 1 })
	for _, d := range refused {
		if l := locksOn(eng, d.UserID); len(l) != 0 {
			t.Errorf("decision %s applied: %+v", d.EventID, l)
		}
	}
	if n := eng.Locks().Len(); n != 1 {
		t.Errorf("lock table holds %d keys, want 1: a refused lock must not leave a key behind", n)
	}
	if got := follower.Metrics().DecisionsRefused.Load(); got != int64(len(refused)) {
		t.Errorf("DecisionsRefused = %d, want %d", got, len(refused))
	}
}

// TestDecisionKeyRotation: during a rotation an instance that already
// signs with the new key and one that still signs with the old one must
// both be believed by a follower that accepts both; once the old key is
// removed from the list, what it signs is refused.
func TestDecisionKeyRotation(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	oldKey := DecisionKey{ID: "2026-06", Secret: []byte("old-decision-key-0123456789abcdef")}
	newKey := DecisionKey{ID: "2026-12", Secret: []byte("new-decision-key-0123456789abcdef")}
	stream := func(keys ...DecisionKey) *Stream {
		c := cfg
		c.DecisionKeys = keys
		return newStream(t, c)
	}
	notYetRotated, rotated := stream(oldKey), stream(newKey, oldKey)
	if err := rotated.EnsureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := notYetRotated.PublishDecisions(ctx, []*schemas.Decision{lockDecision("by-old", "u-old", now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}
	if err := rotated.PublishDecisions(ctx, []*schemas.Decision{lockDecision("by-new", "u-new", now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}

	during, after := stream(newKey, oldKey), stream(newKey)
	engDuring, engAfter := newClockedEngine(t, engine.Recorder{}), newClockedEngine(t, engine.Recorder{})
	following(ctx, t, during, engDuring)
	following(ctx, t, after, engAfter)
	waitFor(t, "both decisions applied while both keys are accepted", func() bool {
		return len(locksOn(engDuring, "u-old")) == 1 && len(locksOn(engDuring, "u-new")) == 1
	})
	waitFor(t, "the new key's decision applied after the old key was removed", func() bool { return len(locksOn(engAfter, "u-new")) == 1 })
	waitFor(t, "the old key's decision counted as badly signed", func() bool { return after.Metrics().DecisionsBadMAC.Load() == 1 })
	if l := locksOn(engAfter, "u-old"); len(l) != 0 {
		t.Errorf("a decision signed with a removed key was applied: %+v", l)
	}
	if got := during.Metrics().DecisionsBadMAC.Load(); got != 0 {
		t.Errorf("DecisionsBadMAC while both keys are accepted = %d, want 0", got)
	}
}

// TestPublishedDecisionsAreSigned reads back, as a plain consumer, what
// PublishDecisions and an admin lift (engine.Lift, which the HTTP DELETE
// of a lock calls) wrote: every message carries a MAC that verifies with
// the key, under the id of the first key.
func TestPublishedDecisionsAreSigned(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.Partitions = 1
	cfg.DecisionKeys = []DecisionKey{{ID: "signing", Secret: []byte("signing-key-0123456789abcdef0123")}, {ID: "older", Secret: []byte("older-key-0123456789abcdef012345")}}
	s := newStreamWithTopics(ctx, t, cfg)
	eng := newClockedEngine(t, engine.Recorder{Publisher: s})
	now := time.Now().UTC()
	if err := s.PublishDecisions(ctx, []*schemas.Decision{lockDecision("d1", "u1", now, now.Add(time.Hour), "failure_burst"), lockDecision("d2", "u2", now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}
	// The lift needs the lock on this instance's table first.
	if err := eng.ApplyDecision(lockDecision("d1", "u1", now, now.Add(time.Hour), "failure_burst")); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Lift(ctx, schemas.ScopeUser, "", "u1", "soc", now); err != nil {
		t.Fatal(err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.DecisionsTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	verifier, err := newSigner(cfg.DecisionKeys[1:]) // the older key alone does not verify them
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.signer.verify(m.Headers, m.Key, m.Value); err != nil {
			t.Errorf("message %d (%s): %v", i, m.Value, err)
		}
		if err := verifier.verify(m.Headers, m.Key, m.Value); !errors.Is(err, ErrBadMAC) {
			t.Errorf("message %d verifies with the second key (%v): it must be signed with the first", i, err)
		}
		if i == 2 && !strings.Contains(string(m.Value), engine.AdminLiftRule) {
			t.Errorf("third message is %s, want the admin lift", m.Value)
		}
	}
}

// BenchmarkSignDecision is the cost signing adds to each published
// decision: HMAC-SHA-256 of a typical lockout decision and its hex.
func BenchmarkSignDecision(b *testing.B) {
	sg, err := newSigner(testDecisionKeys)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	value, _ := schemas.EncodeDecision(nil, lockDecision("7f1c0a9e-5d2b-4c1e-9f3a-2b6d8e0c4a17", "alice@example.com", now, now.Add(10*time.Minute), "failure_burst"))
	key := []byte("alice@example.com")
	buf := make([]byte, 0, macHexLen)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		buf = sg.sign(buf[:0], key, value)
	}
}

// TestReplayedLiftDoesNotLiftALaterLock: the MAC does not stop a genuine
// signed message from being published again. An administrator's lift,
// copied byte for byte (headers and all) from the topic and republished
// after a newer lock on the same key, must not lift that lock on another
// instance.
func TestReplayedLiftDoesNotLiftALaterLock(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.Partitions = 1
	admin := newStreamWithTopics(ctx, t, cfg) // the instance an administrator lifts on
	follower := newStream(t, cfg)
	adminEng := newClockedEngine(t, engine.Recorder{Publisher: admin})
	eng := newClockedEngine(t, engine.Recorder{})
	following(ctx, t, follower, eng)

	now := time.Now().UTC()
	user := "replayed@example.com"
	first := lockDecision("first", user, now.Add(-20*time.Minute), now.Add(time.Hour), "failure_burst")
	if err := adminEng.ApplyDecision(first); err != nil {
		t.Fatal(err)
	}
	if err := admin.PublishDecisions(ctx, []*schemas.Decision{first}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first lock was not applied", func() bool { return len(locksOn(eng, user)) == 1 })
	if _, err := adminEng.Lift(ctx, schemas.ScopeUser, "", user, "soc", now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lift was not applied", func() bool { return len(locksOn(eng, user)) == 0 })

	// The lift as it is on the topic: the second message.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.DecisionsTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(1); err != nil {
		t.Fatal(err)
	}
	liftMsg, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(liftMsg.Value), engine.AdminLiftRule) {
		t.Fatalf("second message is %s, want the lift", liftMsg.Value)
	}

	later := lockDecision("later", user, now, now.Add(2*time.Hour), "account_takeover")
	if err := admin.PublishDecisions(ctx, []*schemas.Decision{later}); err != nil {
		t.Fatal(err)
	}
	writer := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DecisionsTopic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer writer.Close()
	testkit.Produce(ctx, t, writer, kafka.Message{Key: liftMsg.Key, Value: liftMsg.Value, Headers: liftMsg.Headers})
	if err := admin.PublishDecisions(ctx, []*schemas.Decision{lockDecision("control", "control@example.com", now, now.Add(time.Hour), "failure_burst")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the decision after the replay was not applied", func() bool { return len(locksOn(eng, "control@example.com")) == 1 })
	if l := locksOn(eng, user); len(l) != 1 || l[0].Rule != "account_takeover" {
		t.Errorf("after the replayed lift, %s is locked by %+v; want the later lock", user, l)
	}
	if got := follower.Metrics().DecisionsFollowed.Load(); got != 5 {
		t.Errorf("DecisionsFollowed = %d, want 5 (first, lift, later, the replayed lift, control): a replay verifies", got)
	}
}
