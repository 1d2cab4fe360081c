package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/schemas"
)

// eventSet is a test's generated traffic, in event-time order.
type eventSet struct {
	events []schemas.LoginEvent
	lines  [][]byte       // JSON of each event
	byID   map[string]int // event_id → index
}

// generateEvents draws n events from the traffic generator (ordinary users
// with attacks mixed in), 1 ms apart, the first 2 minutes before now:
// recent enough for serve's clock-skew check (24 h behind, 5 min ahead)
// and for the locks they set to be still active when serve restarts and
// warms up, dense enough for the attack windows to trigger.
func generateEvents(t *testing.T, n int, seed uint64) *eventSet {
	t.Helper()
	return generateEventsAt(t, n, seed, time.Now().UTC().Add(-2*time.Minute))
}

// generateEventsAt is generateEvents with the first event at base, or a
// little before it: the events (one a millisecond) are moved back so
// that they all fall in one hour. Attack mode learns its baseline per
// hour of the week and can switch on at the start of an hour, on
// decisions that depend on which instance saw which address; a stream
// that crossed an hour made the fault tests' comparison with replay fail
// now and then (about one run in 36 for the crash test's 100 s).
func generateEventsAt(t *testing.T, n int, seed uint64, base time.Time) *eventSet {
	t.Helper()
	g := loadgen.New(loadgen.Config{Seed: seed})
	base = base.Truncate(time.Millisecond)
	span := time.Duration(n) * time.Millisecond
	if hour := base.Add(span).Truncate(time.Hour); hour.After(base) {
		base = hour.Add(-span - time.Second)
	}
	es := &eventSet{events: make([]schemas.LoginEvent, n), lines: make([][]byte, n), byID: make(map[string]int, n)}
	for i := range n {
		ev := g.Next(base.Add(time.Duration(i) * time.Millisecond))
		b, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := es.byID[ev.EventID]; dup {
			t.Fatalf("generator repeated event_id %s", ev.EventID)
		}
		es.events[i], es.lines[i], es.byID[ev.EventID] = ev, b, i
	}
	return es
}

// writeNDJSON writes the events as NDJSON for replay.
func (es *eventSet) writeNDJSON(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	for _, l := range es.lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// messages returns events [from, to) as Kafka messages keyed by user_id.
func (es *eventSet) messages(from, to int) []kafka.Message {
	msgs := make([]kafka.Message, 0, to-from)
	for i := from; i < to; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(es.events[i].UserID), Value: es.lines[i]})
	}
	return msgs
}

// newProducer publishes to topic as the gateway does: keyed by user_id
// with the Java client's partitioner, acknowledged by all replicas.
func newProducer(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: 16 << 20,
		BatchTimeout: 5 * time.Millisecond, MaxAttempts: 3,
	}
}

// produceAll publishes every event, in chunks.
func (f *fixture) produceAll(es *eventSet) {
	f.t.Helper()
	f.produceRange(es, 0, len(es.events))
}

// produceRange publishes events [from, to), in chunks.
func (f *fixture) produceRange(es *eventSet, from, to int) {
	f.t.Helper()
	w := newProducer(f.brokers, f.eventsTopic)
	defer w.Close()
	ctx := f.ctx(2 * time.Minute)
	start := time.Now()
	for i := from; i < to; i += 5000 {
		if err := w.WriteMessages(ctx, es.messages(i, min(i+5000, to))...); err != nil {
			f.t.Fatalf("producing events: %v", err)
		}
	}
	f.t.Logf("produced %d events to %s in %s", to-from, f.eventsTopic, time.Since(start).Round(time.Millisecond))
}

// pacedProducer publishes the events at a steady rate in the background,
// like a gateway under load. Holding pause stops it between two chunks.
type pacedProducer struct {
	pause    sync.Mutex
	produced atomic.Int64
	retries  atomic.Int64
	done     chan struct{}
	err      error
}

// startPaced publishes es at perSecond events a second, in chunks every
// 100 ms. A failed chunk is retried (the gateway does not drop attempts;
// a chunk written in part before the failure is then in the topic twice,
// which the engine's dedupe must absorb).
func (f *fixture) startPaced(es *eventSet, perSecond int) *pacedProducer {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	pp := &pacedProducer{done: make(chan struct{})}
	w := newProducer(f.brokers, f.eventsTopic)
	chunk := max(perSecond/10, 1)
	go func() {
		defer close(pp.done)
		defer w.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for from := 0; from < len(es.events); from += chunk {
			select {
			case <-tick.C:
			case <-ctx.Done():
				pp.err = ctx.Err()
				return
			}
			msgs := es.messages(from, min(from+chunk, len(es.events)))
			pp.pause.Lock()
			for {
				err := w.WriteMessages(ctx, msgs...)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					pp.err = fmt.Errorf("producing events: %w", err)
					pp.pause.Unlock()
					return
				}
				pp.retries.Add(1)
				time.Sleep(500 * time.Millisecond)
			}
			pp.pause.Unlock()
			pp.produced.Add(int64(len(msgs)))
		}
	}()
	f.t.Cleanup(func() {
		cancel()
		<-pp.done
	})
	return pp
}

// wait waits for the producer to have published everything.
func (pp *pacedProducer) wait(t *testing.T) {
	t.Helper()
	<-pp.done
	if pp.err != nil {
		t.Fatal(pp.err)
	}
	if r := pp.retries.Load(); r > 0 {
		t.Logf("producer retried %d chunks", r)
	}
}

// published is one decision read back from the decisions topic.
type published struct {
	d         *schemas.Decision
	partition int
	offset    int64
	value     []byte // the message with decided_at blanked (withoutDecidedAt)
}

// withoutDecidedAt returns a published decision with its decided_at
// blanked: the one part of a decision that may differ when it is published
// again (a redelivery answered from the dedupe memory or from history).
func withoutDecidedAt(t *testing.T, value []byte) []byte {
	t.Helper()
	i := bytes.Index(value, []byte(`"decided_at":"`))
	if i < 0 {
		t.Fatalf("decision without decided_at: %s", value)
	}
	j := bytes.IndexByte(value[i+len(`"decided_at":"`):], '"')
	if j < 0 {
		t.Fatalf("decision with an unterminated decided_at: %s", value)
	}
	out := append([]byte(nil), value[:i]...)
	return append(out, value[i+len(`"decided_at":"`)+j+1:]...)
}

// outcome is what the engine left behind once complete.
type outcome struct {
	last       map[string]*schemas.Decision // by event_id: the last decision published
	messages   int                          // decisions published in all
	duplicates int                          // decisions beyond the first per event
	diverging  int                          // redelivered events whose decisions differ
}

// checkComplete asserts the end state every test ends in, and logs its
// counts: exactly one history row per event (count() FINAL and
// uniqExact(event_id) equal to the number of events, and the stored ids
// are the produced ones); a decision on the decisions topic for every
// event, keyed by its user_id, with any duplicate carrying the same
// decision byte for byte but decided_at; per user, decisions first published in event order;
// history agreeing with the decisions; and nothing dead-lettered beyond
// what the test expects (f.wantDLQ).
// A redelivered event whose decisions differ fails the test; their count
// is logged.
func (f *fixture) checkComplete(es *eventSet) outcome {
	f.t.Helper()
	t := f.t
	ctx := f.ctx(3 * time.Minute)
	n := len(es.events)

	final, raw, unique, err := f.historyCounts(ctx)
	if err != nil {
		t.Fatalf("counting history: %v", err)
	}
	t.Logf("history: %d events, count() FINAL %d, uniqExact(event_id) %d, raw rows %d (%d redelivered rows not merged yet)",
		n, final, unique, raw, raw-unique)
	if final != uint64(n) || unique != uint64(n) {
		t.Errorf("history holds count() FINAL %d and uniqExact(event_id) %d; want %d each", final, unique, n)
	}
	stored, err := f.historyVerdicts(ctx)
	if err != nil {
		t.Fatalf("reading history: %v", err)
	}
	var missing, unknown []string
	for id := range es.byID {
		if _, ok := stored[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range stored {
		if _, ok := es.byID[id]; !ok {
			unknown = append(unknown, id)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		t.Errorf("history: %d events missing (e.g. %v), %d unknown event ids (e.g. %v)", len(missing), first(missing, 5), len(unknown), first(unknown, 5))
	}

	msgs, err := f.readTopic(ctx, f.decisionsTopic)
	if err != nil {
		t.Fatalf("reading decisions: %v", err)
	}
	all := map[string][]published{}
	badKey := 0
	for _, m := range msgs {
		d := new(schemas.Decision)
		if err := json.Unmarshal(m.Value, d); err != nil {
			t.Fatalf("decision at %d/%d is not JSON: %v", m.Partition, m.Offset, err)
		}
		if string(m.Key) != d.UserID {
			badKey++
		}
		all[d.EventID] = append(all[d.EventID], published{d: d, partition: m.Partition, offset: m.Offset, value: withoutDecidedAt(t, m.Value)})
	}
	out := outcome{last: map[string]*schemas.Decision{}, messages: len(msgs)}
	var undecided, extra, diverging []string
	for id := range es.byID {
		if len(all[id]) == 0 {
			undecided = append(undecided, id)
		}
	}
	historyDiffers := 0
	for id, ps := range all {
		if _, ok := es.byID[id]; !ok {
			extra = append(extra, id)
			continue
		}
		out.last[id] = ps[len(ps)-1].d
		out.duplicates += len(ps) - 1
		vs := make([]verdict, len(ps))
		same := true
		for i, p := range ps {
			vs[i] = verdict{string(p.d.Decision), p.d.Score}
			same = same && bytes.Equal(p.value, ps[0].value)
		}
		if !same {
			out.diverging++
			diverging = append(diverging, fmt.Sprintf("%s %v: %s then %s", id, vs, ps[0].value, ps[len(ps)-1].value))
		}
		if h, ok := stored[id]; ok && h != vs[len(vs)-1] {
			historyDiffers++
		}
	}
	t.Logf("decisions topic: %d messages for %d events: %d duplicates (redelivered events), %d of them with another verdict, %d events without a decision",
		len(msgs), n, out.duplicates, out.diverging, len(undecided))
	if len(undecided) > 0 || len(extra) > 0 {
		t.Errorf("decisions: %d events without one (e.g. %v), %d unknown event ids (e.g. %v)", len(undecided), first(undecided, 5), len(extra), first(extra, 5))
	}
	if badKey > 0 {
		t.Errorf("%d decisions not keyed by their user_id", badKey)
	}
	if len(diverging) > 0 {
		sort.Strings(diverging)
		t.Errorf("%d redelivered events got a different decision the second time (compared byte for byte but decided_at), e.g.\n%s", len(diverging), strings.Join(first(diverging, 5), "\n"))
	}
	if historyDiffers > 0 {
		t.Errorf("%d events whose history row disagrees with their last published decision", historyDiffers)
	}
	f.checkUserOrder(es, msgs)

	dlq, err := f.topicCount(ctx, f.dlqTopic)
	if err != nil {
		t.Fatal(err)
	}
	if dlq != f.wantDLQ {
		t.Errorf("%d messages dead-lettered; want %d", dlq, f.wantDLQ)
	}
	return out
}

// checkUserOrder asserts the ordering promise: a user's decisions are
// first published in the order of the user's events (redelivered
// duplicates come later and are ignored here).
func (f *fixture) checkUserOrder(es *eventSet, msgs []kafka.Message) {
	f.t.Helper()
	seen := map[string]bool{}
	lastIndex := map[string]int{}
	outOfOrder := 0
	var example string
	for _, m := range msgs {
		var d struct {
			EventID string `json:"event_id"`
			UserID  string `json:"user_id"`
		}
		if json.Unmarshal(m.Value, &d) != nil || seen[d.EventID] {
			continue
		}
		seen[d.EventID] = true
		i, ok := es.byID[d.EventID]
		if !ok {
			continue
		}
		if prev, ok := lastIndex[d.UserID]; ok && i < prev {
			outOfOrder++
			if example == "" {
				example = fmt.Sprintf("%s: %s published after %s", d.UserID, d.EventID, es.events[prev].EventID)
			}
		}
		lastIndex[d.UserID] = max(lastIndex[d.UserID], i)
	}
	if outOfOrder > 0 {
		f.t.Errorf("%d decisions first published out of their user's event order, e.g. %s", outOfOrder, example)
	}
}

func first[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// replay scores the events with loginrisk replay (same configuration,
// same rules and GeoIP databases, event time only, no interruption) and
// returns its decisions by event_id.
func (f *fixture) replay(es *eventSet) map[string]*schemas.Decision {
	f.t.Helper()
	in, out := filepath.Join(f.dir, "events.ndjson"), filepath.Join(f.dir, "replay.ndjson")
	es.writeNDJSON(f.t, in)
	start := time.Now()
	runBinary(f.ctx(5*time.Minute), f.t, "replay", "--config", f.configPath, "--events", in, "--out", out, "--quiet")
	file, err := os.Open(out)
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	decisions := map[string]*schemas.Decision{}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		d := new(schemas.Decision)
		if err := json.Unmarshal(sc.Bytes(), d); err != nil {
			f.t.Fatalf("replay output: %v", err)
		}
		decisions[d.EventID] = d
	}
	if err := sc.Err(); err != nil {
		f.t.Fatal(err)
	}
	if len(decisions) != len(es.events) {
		f.t.Fatalf("replay decided %d of %d events", len(decisions), len(es.events))
	}
	f.t.Logf("replay decided %d events in %s", len(decisions), time.Since(start).Round(time.Millisecond))
	return decisions
}

// lockKey is a lock's scope and key ("ip 45.33.1.2").
type lockKey struct {
	scope schemas.LockScope
	key   string
}

func (k lockKey) String() string { return string(k.scope) + " " + k.key }

// lockedKeys returns the locks that lockout decisions set or reported,
// with the rule that set each.
func lockedKeys(ds map[string]*schemas.Decision) map[lockKey]string {
	out := map[lockKey]string{}
	for _, d := range ds {
		if d.Decision == schemas.VerdictLockout && d.Lock != nil {
			out[lockKey{d.Lock.Scope, d.Lock.Key}] = d.Lock.Rule
		}
	}
	return out
}

// ipDependent reports whether a decision depends on what other partitions
// did first: it matched a rule over per-address counters, or refused the
// attempt because of an address lock. Those are the decisions that may
// legitimately differ between serve, which runs the partitions
// concurrently, and replay, which runs the events in file order.
func ipDependent(d *schemas.Decision) bool {
	if d == nil {
		return false
	}
	if d.Lock != nil && (d.Lock.Scope == schemas.ScopeIP || d.Lock.Scope == schemas.ScopeNetwork) {
		return true
	}
	for _, r := range d.Reasons {
		// "locked" reasons say which lock refused the attempt: "ip lock on
		// …", "network lock on …".
		if ipRules[r.Rule] || r.Rule == schemas.ReasonLocked && (strings.HasPrefix(r.Detail, string(schemas.ScopeIP)+" lock") ||
			strings.HasPrefix(r.Detail, string(schemas.ScopeNetwork)+" lock")) {
			return true
		}
	}
	return false
}

// ipRules are the shipped rules and reasons over state that counts events
// of every partition: per-address, per-network and per-ASN counters
// (rules/default/network.yaml), the shared-address fallback that reads
// them, attack mode's platform-wide signals, and unfamiliar_context,
// whose familiarity_risk compares the user's counts with the
// population's, which every partition's allowed successes teach.
var ipRules = map[string]bool{
	"credential_stuffing": true, "password_spray": true, "network_spray": true, "hosting_stuffing": true,
	schemas.ReasonSharedAddress: true, "attack_mode_unfamiliar": true, "unfamiliar_context": true,
}

// countByScope summarises lock keys by scope.
func countByScope(keys map[lockKey]string) string {
	n := map[schemas.LockScope]int{}
	for k := range keys {
		n[k.scope]++
	}
	var parts []string
	for _, s := range schemas.LockScopes() {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n[s]))
		}
	}
	return strings.Join(parts, ", ")
}
