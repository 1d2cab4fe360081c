package history

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// BenchmarkServerCPU inserts distinct login_events rows in batches of
// 2,500, 10,000 and 50,000 rows into a freshly migrated database and
// reports the CPU the ClickHouse server at CLICKHOUSE_DSN used per row
// (server-µs/row, background merges included: it waits until they are
// over), read from /proc. One op is one row. The server must run on this
// machine, and should serve nothing else during the run: docs/history.md,
// "What a row costs", runs it against a private server.
//
// The schemas, side by side: views=three is the current one, views=none login_events alone (the floor). lc=true turns
// the login_events columns the migrations make LowCardinality on servers
// from 19.3 into LowCardinality on this one, with the setting 18.x needs
// (allow_experimental_low_cardinality_type), without views (see
// lowCardinalityColumns). buffer=true inserts into a
// Buffer table in front of login_events, flushed into it every second.
func BenchmarkServerCPU(b *testing.B) {
	pid := clickhousePID(b)
	var cases []serverCPUCase
	for _, views := range []string{viewsThree, viewsNone} {
		for _, size := range []int{2_500, 10_000, 50_000} {
			cases = append(cases, serverCPUCase{views: views, size: size})
		}
	}
	cases = append(cases,
		serverCPUCase{views: viewsNone, lc: true, size: 2_500},
		serverCPUCase{views: viewsNone, lc: true, size: 50_000},
		serverCPUCase{views: viewsThree, buffer: true, size: 2_500})
	for _, c := range cases {
		b.Run(fmt.Sprintf("views=%s/lc=%t/buffer=%t/batch=%d", c.views, c.lc, c.buffer, c.size), func(b *testing.B) {
			benchServerCPU(b, pid, c)
		})
	}
}

// The schemas BenchmarkServerCPU compares.
const (
	viewsThree = "three" // every migration
	viewsNone  = "none"  // every migration, then the views dropped
)

// serverCPUCase is one schema and insert size of BenchmarkServerCPU.
type serverCPUCase struct {
	views      string
	lc, buffer bool
	size       int
}

// lowCardinalityColumns are the login_events columns the migrations write
// as {{lc "String"}}. Only login_events is altered: 18.16 does not cast
// LowCardinality to String when a view inserts, and the views' target
// tables have them in their keys, which it cannot alter; so the lc cases
// run without views.
func lowCardinalityColumns() []string {
	return []string{"failure_reason", "auth_method", "tenant_id", "country", "subdivision", "time_zone",
		"browser", "os", "device_type", "rules_version"}
}

// serverCPURows is how many rows each BenchmarkServerCPU case inserts.
const serverCPURows = 200_000

func benchServerCPU(b *testing.B, pid int, c serverCPUCase) {
	dsn := freshDatabase(b)
	ctx := testContext(b)
	migrations, err := chschema.Migrations()
	if err != nil {
		b.Fatal(err)
	}
	if err := migrate(ctx, dsn, migrations, nil); err != nil {
		b.Fatal(err)
	}
	conn := testConn(b, dsn)
	if c.views == viewsNone {
		dropViews(b, conn, ctx)
	}
	insertSQL := ""
	if c.buffer {
		var db string
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
			b.Fatal(err)
		}
		// One layer, flushed after 1 s, or at a million rows.
		if err := conn.Exec(ctx, "CREATE TABLE login_events_buffer AS login_events ENGINE = Buffer("+quoteIdent(db)+
			", login_events, 1, 1, 1, 1000000, 1000000, 10000000000, 10000000000)"); err != nil {
			b.Fatal(err)
		}
		insertSQL = strings.Replace(recordColumnsOrFatal(b).insertSQL, "INSERT INTO login_events ", "INSERT INTO login_events_buffer ", 1)
	}
	if c.lc {
		lcCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
		for _, col := range lowCardinalityColumns() {
			if err := conn.Exec(lcCtx, "ALTER TABLE login_events MODIFY COLUMN "+col+" LowCardinality(String)"); err != nil {
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
	batch := make([]record, 0, c.size)
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
		if batch = append(batch, r); len(batch) == c.size || i == rows-1 {
			if insertSQL == "" {
				err = w.insert(ctx, rowBatch{batch})
			} else {
				err = insertInto(ctx, conn, w.columns, insertSQL, batch)
			}
			if err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if c.buffer {
		waitForRows(b, conn, ctx, uint64(rows))
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
	u, err := url.Parse(testkit.ClickHouse(b))
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

// recordColumnsOrFatal is recordColumns for a benchmark.
func recordColumnsOrFatal(b *testing.B) *columnTable {
	t, err := recordColumns()
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// insertInto inserts batch with insertSQL (another table than
// login_events, with its columns).
func insertInto(ctx context.Context, conn driver.Conn, t *columnTable, insertSQL string, batch []record) error {
	ib, err := conn.PrepareBatch(ctx, insertSQL)
	if err != nil {
		return err
	}
	if err := t.appendRows(ib, rowBatch{batch}); err != nil {
		_ = ib.Abort()
		return err
	}
	return ib.Send()
}

// waitForRows waits until login_events holds n rows (a Buffer table
// flushed into it).
func waitForRows(b *testing.B, conn driver.Conn, ctx context.Context, n uint64) {
	for {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM login_events").Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got >= n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dropViews drops the materialized views of the database: inserts then
// write login_events alone.
func dropViews(b *testing.B, conn driver.Conn, ctx context.Context) {
	var name string
	var names []string
	forEachRow(b, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'",
		[]any{&name}, func() { names = append(names, name) })
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
