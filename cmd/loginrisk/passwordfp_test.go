package main

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/engine/testkit/syncbuf"
)

// fpMarker is in every password_fp of TestPasswordFPIsNeverWritten, valid
// or not: finding it anywhere is a leak.
const fpMarker = "fpLeak"

// TestPasswordFPIsNeverWritten runs serve (real Kafka when KAFKA_BROKERS
// is set, real ClickHouse, debug logging) on events that carry a
// password_fp, good ones and bad ones, and looks for the fingerprints
// everywhere serve writes: the decisions topic, the dead-letter topic
// (values and headers), every table of the history database and
// serve's log. None may hold one. The fingerprints did reach the engine:
// the history rows have the features computed from them.
func TestPasswordFPIsNeverWritten(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 3*time.Minute)
	name := testkit.Name("pfp")
	dsn, db := historyDB(ctx, t, "pfp")

	// The topics first, one partition each, as the other stream tests
	// make theirs: serve then only joins.
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	var topics []kafka.TopicConfig
	for _, topic := range topicsOf(name) {
		topics = append(topics, kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1})
	}
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics}); err != nil {
		t.Fatal(err)
	}
	deleteTopicsAtEnd(t, client, name)

	keyFile := writeFile(t, "decision-key", "pfp-test-decision-key-0123456789abcdef\n")
	config := writeFile(t, "loginrisk.yaml", kafkaSection(brokers, name)+fmt.Sprintf(`  partitions: 1
  create_topics: false
  decision_keys:
    - {id: k1, secret: "file:%s"}
clickhouse:
  dsn: %q
  flush_interval: 50ms
http:
  addr: 127.0.0.1:0
  token_file: %s
log:
  level: debug
`, keyFile, dsn, filepath.Join(t.TempDir(), "token")))

	at := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	event := func(id, user, outcome, fp string) string {
		s := fmt.Sprintf(`{"event_id":%q,"occurred_at":%q,"user_id":%q,"outcome":%q,"ip":"81.2.69.160","user_agent":"Mozilla/5.0"`, id, at, user, outcome)
		if outcome == "failure" {
			s += `,"failure_reason":"bad_password"`
		}
		if fp != "" {
			s += `,"password_fp":"` + fp + `"`
		}
		return s + `}`
	}
	fp := func(n int) string { return fmt.Sprintf("zZ%s%08d", fpMarker, n) } // 16 base64url characters
	good := []string{
		event("pfp-1", "alice", "failure", fp(1)),
		event("pfp-2", "alice", "failure", fp(1)), // the same typo: password_repeated
		event("pfp-3", "alice", "failure", fp(2)),
		event("pfp-4", "bob", "failure", fp(1)),
		event("pfp-5", "alice", "success", fp(3)),
		event("pfp-6", "carol", "success", ""),
	}
	bad := []string{
		strings.Replace(event("pfp-bad-ip", "dave", "failure", fp(4)), "81.2.69.160", "999.1.1.1", 1),
		event("pfp-bad-fp", "dave", "failure", "zZ"+fpMarker+"BAD0000017"), // 17 characters
		`{"event_id":"pfp-bad-json","password_fp":"` + fp(5) + `","ip":1.2.3}`,
		event("pfp-1", "mallory", "failure", fp(6)), // pfp-1 again, another attempt: dead-lettered
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: name + "-events"}
	defer w.Close()
	var msgs []kafka.Message
	for _, v := range append(append([]string{}, good...), bad...) {
		msgs = append(msgs, kafka.Message{Key: []byte("k"), Value: []byte(v)})
	}

	serveCtx, stopServe := context.WithCancel(ctx)
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	served := make(chan error, 1)
	go func() {
		served <- cmdServe(serveCtx, []string{"--config", config}, strings.NewReader(""), stdout, stderr)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's output:\n%s%s", stdout.String(), stderr.String())
		}
	})
	// The consumer group's first generation can take half a minute to form.
	waitFor(t, 90*time.Second, "serve to join its group", func() bool {
		return strings.Contains(stdout.String()+stderr.String(), "kafka generation started")
	})
	testkit.Produce(ctx, t, w, msgs...)

	decisions := readAll(ctx, t, brokers, name+"-decisions", len(good))

	dead := readAll(ctx, t, brokers, name+"-dlq", len(bad))
	ch, err := clickhouse.Open(mustParseDSN(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	waitFor(t, 60*time.Second, "the history rows", func() bool {
		var n uint64
		return ch.QueryRow(ctx, "SELECT count() FROM login_events").Scan(&n) == nil && n == uint64(len(good))
	})
	stopServe()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}

	leak := func(where, s string) {
		t.Helper()
		if strings.Contains(s, fpMarker) {
			t.Errorf("%s holds a password_fp:\n%s", where, s)
		}
	}
	for _, m := range decisions {
		leak("a decision", string(m.Value))
		for _, h := range m.Headers {
			leak("a decision header "+h.Key, string(h.Value))
		}
	}
	kept := map[string]string{} // dead-lettered value by loginrisk-field
	for _, m := range dead {
		leak("a dead-letter value", string(m.Value))
		field := ""
		for _, h := range m.Headers {
			leak("a dead-letter header "+h.Key, string(h.Value))
			if h.Key == kafkastream.HeaderField {
				field = string(h.Value)
			}
		}
		kept[field] += string(m.Value)
	}
	// The rest of each refused message is kept for whoever looks at it.
	for field, want := range map[string]string{"ip": "999.1.1.1", "password_fp": `"pfp-bad-fp"`, "": `"pfp-bad-json"`, "event_id": "mallory"} {
		if !strings.Contains(kept[field], want) {
			t.Errorf("the dead-letter of the bad %q lacks %s: %q", field, want, kept[field])
		}
	}
	leak("serve's log", stdout.String()+stderr.String())

	rows, err := ch.Query(ctx, "SELECT name FROM system.tables WHERE database = ?", db)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, table)
	}
	if len(tables) < 5 {
		t.Fatalf("tables %v: the history schema is not there", tables)
	}
	for _, table := range tables {
		leak("table "+table, dumpTable(ctx, t, ch, db, table))
	}
	var repeated uint8
	var spread uint32
	if err := ch.QueryRow(ctx, "SELECT max(password_repeated), max(password_distinct_users_1h) FROM login_events").Scan(&repeated, &spread); err != nil {
		t.Fatal(err)
	}
	if repeated != 1 || spread != 2 {
		t.Errorf("password_repeated %d, password_distinct_users_1h %d in history; want 1 and 2 (computed from the fingerprints)", repeated, spread)
	}
}

// dumpTable returns every row of db's table as text, with the
// aggregate states of summary tables finalized.
func dumpTable(ctx context.Context, t *testing.T, ch clickhouse.Conn, db, table string) string {
	t.Helper()
	cols, err := ch.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for cols.Next() {
		var name, typ string
		if err := cols.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		expr := "`" + name + "`"
		if strings.HasPrefix(typ, "AggregateFunction(") {
			expr = "finalizeAggregation(" + expr + ")"
		}
		exprs = append(exprs, expr)
	}
	cols.Close()
	if len(exprs) == 0 {
		return ""
	}
	rows, err := ch.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM `"+db+"`.`"+table+"`")
	if err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	defer rows.Close()
	var b strings.Builder
	types := rows.ColumnTypes()
	for rows.Next() {
		values := make([]any, len(types))
		for i, ct := range types {
			values[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(values...); err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		for _, v := range values {
			fmt.Fprintf(&b, "%v\t", reflect.ValueOf(v).Elem().Interface())
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	return b.String()
}

// readAll reads n messages from the one partition of topic.
func readAll(ctx context.Context, t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	readCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(readCtx)
		if err != nil {
			t.Fatalf("reading %s: %d of %d messages: %v", topic, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustParseDSN turns a DSN into clickhouse-go options.
func mustParseDSN(t *testing.T, dsn string) *clickhouse.Options {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}
