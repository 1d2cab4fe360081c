package faulttest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
)

// partitions of every events topic the tests create.
const partitions = 6

// fixture is one test's world: its own topics, consumer group and
// ClickHouse database, the serve configuration and the serve log.
type fixture struct {
	t        *testing.T
	brokers  []string
	baseDSN  string // the server's DSN, database as given
	database string
	dsn      string // baseDSN with the test's database

	group, eventsTopic, decisionsTopic, dlqTopic string
	partitions                                   int

	dir, configPath, logPath string
	starts                   int
	wantDLQ                  int64 // messages the test expects on the dead-letter topic

	ch    driver.Conn
	kafka *kafka.Client
}

// newFixture names the test's topics, group and database, creates the
// topics with six partitions, and writes the configuration. At the end
// it deletes the topics and drops the database — unless the test failed,
// when both are kept for a look and their names logged — and prints the
// tail of the serve log if the test failed.
func newFixture(t *testing.T, brokers []string, baseDSN string, cfg serveConfig) *fixture {
	t.Helper()
	name := testkit.Name("lr_fault")
	f := &fixture{
		t: t, brokers: brokers, baseDSN: baseDSN, database: name,
		group: name, eventsTopic: name + "-events", decisionsTopic: name + "-decisions", dlqTopic: name + "-dlq",
		partitions: partitions, dir: t.TempDir(),
	}
	f.logPath = filepath.Join(f.dir, "serve.log")
	u, err := url.Parse(baseDSN)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", baseDSN, err)
	}
	u.Path = "/" + name
	f.dsn = u.String()

	opts, err := clickhouse.ParseDSN(baseDSN)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", baseDSN, err)
	}
	opts.DialTimeout = 5 * time.Second
	if f.ch, err = clickhouse.Open(opts); err != nil {
		t.Fatal(err)
	}
	f.kafka = &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 15 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var topics []kafka.TopicConfig
	for _, topic := range []string{f.eventsTopic, f.decisionsTopic, f.dlqTopic} {
		topics = append(topics, kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1})
	}
	resp, err := f.kafka.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Fatalf("creating topic %s: %v", topic, err)
		}
	}
	t.Logf("topics %s-{events,decisions,dlq} (%d partitions), group %s, database %s", name, partitions, name, name)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve log (last lines):\n%s", f.tailLog(60))
			t.Logf("kept for inspection: topics %s-*, database %s", name, name)
			f.ch.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.ch.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Logf("dropping database %s: %v", name, err)
		}
		f.ch.Close()
		if _, err := f.kafka.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{f.eventsTopic, f.decisionsTopic, f.dlqTopic}}); err != nil {
			t.Logf("deleting topics: %v", err)
		}
	})
	f.writeConfig(cfg)
	return f
}

// ctx returns a context that ends after d or with the test.
func (f *fixture) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	f.t.Cleanup(cancel)
	return ctx
}

// --- Kafka ---

// topicPartitions lists a topic's partition ids.
func (f *fixture) topicPartitions(ctx context.Context, topic string) ([]int, error) {
	md, err := f.kafka.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	for _, tp := range md.Topics {
		if tp.Name != topic {
			continue
		}
		if tp.Error != nil {
			return nil, tp.Error
		}
		var ids []int
		for _, p := range tp.Partitions {
			ids = append(ids, p.ID)
		}
		sort.Ints(ids)
		return ids, nil
	}
	return nil, fmt.Errorf("topic %s not in metadata", topic)
}

// topicRange returns each partition's first and end (next) offset.
func (f *fixture) topicRange(ctx context.Context, topic string) (first, end map[int]int64, err error) {
	ids, err := f.topicPartitions(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	var reqs []kafka.OffsetRequest
	for _, p := range ids {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := f.kafka.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, nil, err
	}
	first, end = map[int]int64{}, map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		first[po.Partition], end[po.Partition] = po.FirstOffset, po.LastOffset
	}
	return first, end, nil
}

// topicCount returns how many messages a topic holds.
func (f *fixture) topicCount(ctx context.Context, topic string) (int64, error) {
	first, end, err := f.topicRange(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for p, e := range end {
		n += e - first[p]
	}
	return n, nil
}

// readTopic reads every message a topic holds right now, partition by
// partition, each in offset order.
func (f *fixture) readTopic(ctx context.Context, topic string) ([]kafka.Message, error) {
	first, end, err := f.topicRange(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, p := range slices.Sorted(mapsKeys(end)) {
		if end[p] <= first[p] {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: f.brokers, Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond,
		})
		if err := r.SetOffset(first[p]); err != nil {
			r.Close()
			return nil, err
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("reading %s partition %d at offset %d of %d: %w", topic, p, len(out), end[p], err)
			}
			out = append(out, m)
			if m.Offset >= end[p]-1 {
				break
			}
		}
		r.Close()
	}
	return out, nil
}

// committed returns the group's committed offset per partition of the
// events topic (-1: none yet).
func (f *fixture) committed(ctx context.Context) (map[int]int64, error) {
	ids, err := f.topicPartitions(ctx, f.eventsTopic)
	if err != nil {
		return nil, err
	}
	resp, err := f.kafka.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: f.group, Topics: map[string][]int{f.eventsTopic: ids}})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[f.eventsTopic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// committedTotal sums the committed offsets: how many events messages the
// group has committed past.
func (f *fixture) committedTotal(ctx context.Context) (int64, error) {
	c, err := f.committed(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, o := range c {
		n += max(o, 0)
	}
	return n, nil
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// --- ClickHouse ---

// table names a table of the test's database.
func (f *fixture) table(name string) string { return "`" + f.database + "`." + name }

// historyCounts returns count() FINAL, the raw row count and
// uniqExact(event_id) of login_events.
func (f *fixture) historyCounts(ctx context.Context) (final, raw, unique uint64, err error) {
	if err = f.ch.QueryRow(ctx, "SELECT count() FROM "+f.table("login_events")+" FINAL").Scan(&final); err != nil {
		return
	}
	err = f.ch.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+f.table("login_events")).Scan(&raw, &unique)
	return
}

// historyRows returns count() of login_events (no FINAL: cheap, counts
// redelivered rows not yet merged), 0 while the table does not exist.
func (f *fixture) historyRows(ctx context.Context) uint64 {
	var n uint64
	if err := f.ch.QueryRow(ctx, "SELECT count() FROM "+f.table("login_events")).Scan(&n); err != nil {
		return 0
	}
	return n
}

// verdict is what must not change when an event is redelivered.
type verdict struct {
	Decision string
	Score    int
}

func (v verdict) String() string { return fmt.Sprintf("%s/%d", v.Decision, v.Score) }

// historyIDs returns the event ids stored in login_events.
func (f *fixture) historyIDs(ctx context.Context) (map[string]bool, error) {
	rows, err := f.ch.Query(ctx, "SELECT event_id FROM "+f.table("login_events"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// historyVerdicts returns each stored event's decision and score
// (login_events FINAL).
func (f *fixture) historyVerdicts(ctx context.Context) (map[string]verdict, error) {
	rows, err := f.ch.Query(ctx, "SELECT event_id, CAST(decision AS String), score FROM "+f.table("login_events")+" FINAL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]verdict{}
	for rows.Next() {
		var id, decision string
		var score uint8
		if err := rows.Scan(&id, &decision, &score); err != nil {
			return nil, err
		}
		out[id] = verdict{decision, int(score)}
	}
	return out, rows.Err()
}

// progress is a one-line view of how far serve got, for logs and polls.
type progress struct {
	decisions, committed int64
	history              uint64
}

func (p progress) String() string {
	return fmt.Sprintf("decisions published %d, offsets committed %d, history rows %d", p.decisions, p.committed, p.history)
}

func (f *fixture) progress(ctx context.Context) progress {
	var p progress
	p.decisions, _ = f.topicCount(ctx, f.decisionsTopic)
	p.committed, _ = f.committedTotal(ctx)
	p.history = f.historyRows(ctx)
	return p
}

// waitCommitted waits up to two minutes, polling every interval, until
// the group has committed n events messages (a quarter of the stream,
// before a test's fault): serve is mid-stream.
func (f *fixture) waitCommitted(p *serveProc, n int64, interval time.Duration) {
	f.t.Helper()
	eventually(f.t, 2*time.Minute, interval, fmt.Sprintf("%d events messages committed", n), p, func() (bool, string) {
		c, err := f.committedTotal(f.ctx(10 * time.Second))
		return c >= n, fmt.Sprintf("%d committed (%v)", c, err)
	})
}

// waitComplete waits until serve has published at least n decisions,
// stored n distinct events and committed every events message.
func (f *fixture) waitComplete(p *serveProc, n int, timeout time.Duration) {
	f.t.Helper()
	start := time.Now()
	eventually(f.t, timeout, 500*time.Millisecond, "every event decided, stored and committed", p, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		pr := f.progress(ctx)
		if pr.decisions < int64(n) {
			return false, pr.String()
		}
		final, _, _, err := f.historyCounts(ctx)
		if err != nil || final != uint64(n) {
			return false, fmt.Sprintf("%s, FINAL %d (%v)", pr, final, err)
		}
		end, err := f.topicCount(ctx, f.eventsTopic)
		if err != nil || pr.committed < end {
			return false, fmt.Sprintf("%s of %d events messages (%v)", pr, end, err)
		}
		return true, ""
	})
	f.t.Logf("complete %s after waiting %s", f.progress(f.ctx(time.Minute)), time.Since(start).Round(time.Millisecond))
}

var errNotFound = errors.New("not found")

// lastLine returns the last serve log line containing substr.
func (f *fixture) lastLine(substr string) (string, error) {
	lines := f.logLines(substr)
	if len(lines) == 0 {
		return "", errNotFound
	}
	return strings.TrimSpace(lines[len(lines)-1]), nil
}
