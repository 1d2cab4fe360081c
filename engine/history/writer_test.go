package history

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" when valid
	}{
		{"defaults", Config{DSN: "clickhouse://127.0.0.1:9000/x"}, ""},
		{"no dsn", Config{}, "dsn is required"},
		{"http protocol", Config{DSN: "http://127.0.0.1:8123/x"}, "native protocol"},
		{"bad database", Config{DSN: "clickhouse://127.0.0.1:9000/a-b"}, "database name"},
		{"buffer below batch", Config{DSN: "clickhouse://127.0.0.1:9000/x", BatchSize: 100, MaxBuffer: 10}, "clickhouse.max_buffer: 10 must be at least clickhouse.batch_size (100)"},
		{"negative batch", Config{DSN: "clickhouse://127.0.0.1:9000/x", BatchSize: -1}, "clickhouse.batch_size: -1"},
		{"backoff", Config{DSN: "clickhouse://127.0.0.1:9000/x", RetryMin: time.Second, RetryMax: time.Millisecond}, "retry backoff"},
		{"source", Config{DSN: "clickhouse://127.0.0.1:9000/x", Source: "carrier_pigeon"}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				w.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWriteHistoryRefusesBadRows(t *testing.T) {
	w := newWriter(t, Config{DSN: "clickhouse://127.0.0.1:1/x"})
	good := event("e1", "alice", "81.2.69.160", T0, schemas.OutcomeSuccess)
	tests := []struct {
		name string
		edit func(*schemas.ScoredEvent)
	}{
		{"no decision", func(se *schemas.ScoredEvent) { se.Decision = nil }},
		{"no event", func(se *schemas.ScoredEvent) { se.Event = nil }},
		{"bad outcome", func(se *schemas.ScoredEvent) { se.Event.Outcome = "maybe" }},
		{"bad verdict", func(se *schemas.ScoredEvent) { se.Decision.Decision = "shrug" }},
		{"bad lock scope", func(se *schemas.ScoredEvent) { se.Decision.Lock = &schemas.Lock{Scope: "planet", Key: "x"} }},
		{"year 1900", func(se *schemas.ScoredEvent) { se.Event.OccurredAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := event("e1", "alice", "81.2.69.160", T0, schemas.OutcomeSuccess)
			tt.edit(&se)
			err := w.WriteHistory(context.Background(), []schemas.ScoredEvent{good, se})
			if !errors.Is(err, ErrInvalidRow) {
				t.Fatalf("err = %v, want ErrInvalidRow", err)
			}
			if n := w.Metrics().BufferRows.Load(); n != 0 {
				t.Fatalf("%d rows buffered: a refused call must buffer nothing", n)
			}
		})
	}
	if _, err := w.ForSource("carrier_pigeon"); err == nil {
		t.Error("ForSource accepted an unknown source")
	}
}

// TestWriterBlocksWhileUnreachable points the writer at a closed port:
// WriteHistory blocks until its context ends, Healthy reports the error,
// and the failed attempts are counted. Run's drain gives up after
// DrainTimeout and says how many rows it could not insert.
func TestWriterBlocksWhileUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w := newWriter(t, Config{DSN: "clickhouse://" + addr + "/x", FlushInterval: 10 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, DrainTimeout: 50 * time.Millisecond})
	stop := runWriter(t, w)

	if ok, _ := w.Healthy(); !ok {
		t.Error("Healthy before any insert")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = w.WriteHistory(ctx, []schemas.ScoredEvent{event("e1", "alice", "81.2.69.160", T0, schemas.OutcomeFailure)})
	if !isDeadline(err) {
		t.Fatalf("WriteHistory = %v, want it blocked until the deadline", err)
	}
	ok, detail := w.Healthy()
	if ok || !strings.Contains(detail, "connection refused") {
		t.Errorf("Healthy = %v, %q; want false with the connection error", ok, detail)
	}
	if n := w.Metrics().RetriesTotal.Load(); n < 2 {
		t.Errorf("retries_total = %d, want the insert retried", n)
	}
	if n := w.Metrics().BufferRows.Load(); n != 1 {
		t.Errorf("buffer depth %d, want the row kept", n)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), "1 rows not inserted at shutdown") {
		t.Errorf("Run = %v, want it to report the row it could not insert", err)
	}
	if err := w.WriteHistory(context.Background(), []schemas.ScoredEvent{event("e2", "alice", "81.2.69.160", T0, schemas.OutcomeFailure)}); !errors.Is(err, ErrStopped) {
		t.Errorf("WriteHistory after Run returned = %v, want ErrStopped", err)
	}
}

// TestWriterRecoversAfterOutage starts with ClickHouse unreachable (a
// proxy that is down), then brings it back: the blocked rows and the new
// ones are inserted once each, and Healthy recovers.
func TestWriterRecoversAfterOutage(t *testing.T) {
	dsn := migratedDatabase(t)
	p := newProxy(t, hostPort(t, dsn))
	w := startWriter(t, Config{DSN: withHost(t, dsn, p.addr), FlushInterval: 10 * time.Millisecond,
		RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond})

	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	first := []schemas.ScoredEvent{event("e1", "alice", "81.2.69.160", minutes(1), schemas.OutcomeFailure)}
	if err := w.WriteHistory(short, first); !isDeadline(err) {
		t.Fatalf("WriteHistory while down = %v, want deadline exceeded", err)
	}
	if ok, _ := w.Healthy(); ok {
		t.Fatal("Healthy while ClickHouse is unreachable")
	}
	p.up()
	second := []schemas.ScoredEvent{event("e2", "alice", "81.2.69.160", minutes(2), schemas.OutcomeSuccess)}
	if err := w.WriteHistory(testContext(t), second); err != nil {
		t.Fatalf("WriteHistory after recovery: %v", err)
	}
	if ok, detail := w.Healthy(); !ok {
		t.Errorf("Healthy after recovery = false, %s", detail)
	}
	conn := testConn(t, dsn)
	if n := queryUint64(t, conn, "SELECT count() FROM login_events FINAL"); n != 2 {
		t.Errorf("%d rows stored, want 2 (the blocked one and the new one)", n)
	}
	if w.Metrics().RetriesTotal.Load() == 0 {
		t.Error("retries_total = 0 after an outage")
	}
}

func TestWriterInsertsFromManyCallers(t *testing.T) {
	dsn := migratedDatabase(t)
	w := startWriter(t, Config{DSN: dsn, BatchSize: 500, FlushInterval: 50 * time.Millisecond, MaxBuffer: 1000})
	const callers, batches, perBatch = 8, 5, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers*batches)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				events := make([]schemas.ScoredEvent, perBatch)
				for i := range events {
					n := (c*batches+b)*perBatch + i
					events[i] = event(fmt.Sprintf("e%05d", n), fmt.Sprintf("user%d", n%37), fmt.Sprintf("10.0.%d.%d", c, i),
						T0.Add(time.Duration(n)*time.Second), schemas.OutcomeFailure)
				}
				errs <- w.WriteHistory(context.Background(), events)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	const total = callers * batches * perBatch
	conn := testConn(t, dsn)
	if n := queryUint64(t, conn, "SELECT count() FROM login_events"); n != total {
		t.Errorf("%d rows in login_events, want %d", n, total)
	}
	m := w.Metrics()
	if m.RowsWrittenTotal.Load() != total || m.BufferRows.Load() != 0 {
		t.Errorf("rows_written_total %d, buffer %d; want %d and 0", m.RowsWrittenTotal.Load(), m.BufferRows.Load(), total)
	}
	if b := m.BatchesTotal.Load(); b < total/500 || b > total/perBatch {
		t.Errorf("batches_total %d: want batches of up to 500 rows", b)
	}
	if m.LastInsertNanos.Load() <= 0 || m.InsertNanosSum.Load() < m.LastInsertNanos.Load() {
		t.Errorf("insert latency last %d sum %d", m.LastInsertNanos.Load(), m.InsertNanosSum.Load())
	}
}

// TestBackPressure fills the buffer while the flusher is not running:
// a write that does not fit blocks until its context ends; once Run
// starts, every write completes, including one larger than the buffer.
func TestBackPressure(t *testing.T) {
	dsn := migratedDatabase(t)
	w := newWriter(t, Config{DSN: dsn, BatchSize: 10, MaxBuffer: 10, FlushInterval: 10 * time.Millisecond})
	batch := func(prefix string, n int) []schemas.ScoredEvent {
		out := make([]schemas.ScoredEvent, n)
		for i := range out {
			out[i] = event(fmt.Sprintf("%s%02d", prefix, i), "alice", "81.2.69.160", minutes(float64(i)), schemas.OutcomeFailure)
		}
		return out
	}
	filled := make(chan error, 1)
	go func() { filled <- w.WriteHistory(context.Background(), batch("a", 10)) }()
	waitFor(t, func() bool { return w.Metrics().BufferRows.Load() == 10 })

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.WriteHistory(short, batch("b", 1)); !isDeadline(err) {
		t.Fatalf("write into a full buffer = %v, want it blocked until the deadline", err)
	}
	if n := w.Metrics().BufferRows.Load(); n != 10 {
		t.Fatalf("buffer depth %d, want 10 (a blocked write adds nothing)", n)
	}
	large := make(chan error, 1)
	go func() { large <- w.WriteHistory(context.Background(), batch("c", 25)) }()

	runWriter(t, w)
	for _, ch := range []chan error{filled, large} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("write still blocked after the flusher started")
		}
	}
	if n := queryUint64(t, testConn(t, dsn), "SELECT count() FROM login_events FINAL"); n != 35 {
		t.Errorf("%d rows stored, want 35", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRedeliveryCollapses writes the same events twice (a Kafka
// redelivery, with a later decided_at): login_events holds them once
// under FINAL, and the later version wins. The aggregates, fed by materialized views, count the second
// delivery too; distinct counts do not change.
func TestRedeliveryCollapses(t *testing.T) {
	dsn, w := recordingDatabase(t)
	hits, _ := w.ForSource(SourceHTTP)
	const n = 100
	deliver := func(writer interface {
		WriteHistory(context.Context, []schemas.ScoredEvent) error
	}, at time.Time, score int) {
		events := make([]schemas.ScoredEvent, n)
		for i := range events {
			events[i] = event(fmt.Sprintf("e%03d", i), fmt.Sprintf("user%d", i%10), "203.0.113.7", minutes(float64(i)/10),
				schemas.OutcomeFailure, decided(schemas.VerdictChallenge, score), decidedAt(at))
		}
		if err := writer.WriteHistory(testContext(t), events); err != nil {
			t.Fatal(err)
		}
	}
	deliver(w, minutes(20), 40)
	deliver(hits, minutes(30), 50)

	conn := testConn(t, dsn)
	checks := []struct {
		sql  string
		want uint64
	}{
		{"SELECT count() FROM login_events FINAL", n},
		{"SELECT uniqExact(event_id) FROM login_events", n},
		{"SELECT countIf(score = 50 AND source = 'http') FROM login_events FINAL", n},
		{"SELECT sum(attempt_count) FROM ip_hourly", 2 * n},
		{"SELECT uniqMerge(users) FROM ip_hourly", 10},
		{"SELECT sum(event_count) FROM decisions_hourly", 2 * n},
	}
	for _, c := range checks {
		if got := queryUint64(t, conn, c.sql); got != c.want {
			t.Errorf("%s = %d, want %d", c.sql, got, c.want)
		}
	}
	if err := conn.Exec(testContext(t), "OPTIMIZE TABLE login_events FINAL"); err != nil {
		t.Fatal(err)
	}
	if got := queryUint64(t, conn, "SELECT count() FROM login_events"); got != n {
		t.Errorf("after OPTIMIZE FINAL: %d rows, want %d", got, n)
	}

	// The exact analyst queries are free of the duplicates.
	cols, rows, err := RunQuery(testContext(t), dsn, "accounts_under_attack", map[string]string{
		"from": "2026-03-01T10:00:00Z", "to": "2026-03-01T11:00:00Z", "min_failures": "1", "limit": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || cols[2] != "failures" || FormatValue(rows[0][2]) != "10" {
		t.Errorf("accounts_under_attack after redelivery: %v %v, want 10 failures for the top account", cols, rows)
	}
}
