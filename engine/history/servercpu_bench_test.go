package history

import (
	"context"

	"fmt"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
	"github.com/loginrisk/loginrisk/schemas"
)

// BenchmarkServerCPU inserts distinct login_events rows in batches of
// each size, into a freshly migrated database with its materialized
// views and into one without them (bare), and reports the CPU the
// ClickHouse server at CLICKHOUSE_DSN used per row (server-µs/row,
// background merges included: it waits until they are over), read from
// /proc. One op is one row. The server must run on this machine, and
// should serve nothing else during the run: docs/history.md, "What a
// row costs", runs it against a private server.
//
// The lc=true cases turn the columns the migrations make LowCardinality
// on servers from 19.3 into LowCardinality on this one, with the setting
// 18.x needs (allow_experimental_low_cardinality_type): what the
// migrations would gain by using it there.
func BenchmarkServerCPU(b *testing.B) {
	pid := clickhousePID(b)
	for _, lc := range []bool{false, true} {
		for _, views := range []bool{true, false} {
			for _, size := range []int{2_500, 10_000, 50_000} {
				name := fmt.Sprintf("lc=%t/views=%t/batch=%d", lc, views, size)
				b.Run(name, func(b *testing.B) { benchServerCPU(b, pid, lc, views, size) })
			}
		}
	}
}

// lowCardinalityColumns are the login_events columns the migrations write
// as {{lc "String"}}.
func lowCardinalityColumns() []string {
	return []string{"failure_reason", "auth_method", "tenant_id", "country", "subdivision", "time_zone",
		"browser", "os", "device_type", "rules_version"}
}

// serverCPURows is how many rows each BenchmarkServerCPU case inserts.
const serverCPURows = 200_000

func benchServerCPU(b *testing.B, pid int, lc, views bool, size int) {
	dsn := migratedDatabase(b)
	conn := testConn(b, dsn)
	ctx := testContext(b)
	if !views {
		dropViews(b, conn, ctx)
	}
	if lc {
		lcCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
		for _, c := range lowCardinalityColumns() {
			if err := conn.Exec(lcCtx, "ALTER TABLE login_events MODIFY COLUMN "+c+" LowCardinality(String)"); err != nil {
				b.Fatal(err)
			}
		}
	}
	w, err := New(Config{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	// The same rows for every size, whatever b.N: merges depend on them.
	rows := max(b.N, serverCPURows)
	batch := make([]record, 0, size)
	var client time.Duration
	b.ResetTimer()
	meter := proccpu.Start([]proccpu.Process{{Name: "clickhouse", PID: pid}})
	for i := range rows {
		se := costEvent(i)
		start := time.Now()
		r, err := newRecord(&se, SourceKafka)
		if err != nil {
			b.Fatal(err)
		}
		client += time.Since(start)
		if batch = append(batch, r); len(batch) == size || i == rows-1 {
			if err := w.insert(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	waitForMerges(b, conn, ctx)
	b.StopTimer()
	for _, u := range meter.Stop("bench") {
		if u.Name == "clickhouse" {
			b.ReportMetric(float64(u.CPU.Microseconds())/float64(rows), "server-µs/row")
		}
	}
	b.ReportMetric(float64(client.Nanoseconds())/float64(rows), "record-ns/row")
}

// costEvent is a distinct scored event: 50,000 users, 20,000 addresses,
// a minute of event time per 10,000 events, some failures and decisions
// with reasons, as in generated traffic.
func costEvent(i int) schemas.ScoredEvent {
	se := richEvent()
	id := "cost-" + strconv.Itoa(i)
	user := "user-" + strconv.Itoa(i%50_000)
	ip := fmt.Sprintf("10.%d.%d.%d", i%20_000/65536, i%20_000/256%256, i%256)
	at := se.Event.OccurredAt.Add(time.Duration(i) * 6 * time.Millisecond)
	se.Event.EventID, se.Event.UserID, se.Event.IP, se.Event.OccurredAt = id, user, ip, at
	f := *se.Features
	f.UserID, f.IP = user, ip
	se.Features = &f
	d := *se.Decision
	d.EventID, d.UserID, d.IP, d.OccurredAt = id, user, ip, at
	if i%10 != 0 {
		d.Score, d.Decision, d.Lock, d.Reasons, d.Shadow = 0, schemas.VerdictAllow, nil, nil, nil
		se.Event.Outcome = schemas.OutcomeSuccess
	}
	se.Decision = &d
	return se
}

// clickhousePID is the pid of the ClickHouse server of CLICKHOUSE_DSN,
// found by its port; the benchmark is skipped when it is not on this
// machine.
func clickhousePID(b *testing.B) int {
	u, err := url.Parse(testDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	_, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		p = "9000"
	}
	port, _ := strconv.Atoi(p)
	pid, err := proccpu.ListeningOn(port)
	if err != nil {
		b.Skipf("ClickHouse on port %d: %v", port, err)
	}
	return pid
}

// dropViews drops the materialized views of the database: inserts then
// write login_events alone.
func dropViews(b *testing.B, conn driver.Conn, ctx context.Context) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'")
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			b.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if err := conn.Exec(ctx, "DROP TABLE "+quoteIdent(n)); err != nil {
			b.Fatal(err)
		}
	}
}

// waitForMerges waits until the database has no merge running, twice in a
// row half a second apart (merges are scheduled every few hundred ms).
func waitForMerges(b *testing.B, conn driver.Conn, ctx context.Context) {
	quiet := 0
	for quiet < 2 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase()").Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(500 * time.Millisecond)
	}
}
