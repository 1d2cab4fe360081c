package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

type appliedRow struct {
	Version   uint32
	Name      string
	Checksum  string
	AppliedAt time.Time
}

func schemaMigrations(t *testing.T, dsn string) []appliedRow {
	t.Helper()
	conn := testConn(t, dsn)
	var r appliedRow
	var out []appliedRow
	forEachRow(t, conn, "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version, applied_at",
		[]any{&r.Version, &r.Name, &r.Checksum, &r.AppliedAt}, func() { out = append(out, r) })
	return out
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	dsn := freshDatabase(t)
	ctx := testContext(t)
	if err := Migrate(ctx, dsn, testLogger(t)); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	first := schemaMigrations(t, dsn)

	conn := testConn(t, dsn)
	version, err := serverVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	all, err := chschema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range all {
		if m.AppliesTo(version) {
			want = append(want, m.Name)
		}
	}
	var got []string
	for _, r := range first {
		got = append(got, r.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ClickHouse %s: applied %v, want %v", version, got, want)
	}

	if err := Migrate(ctx, dsn, testLogger(t)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if second := schemaMigrations(t, dsn); !slices.Equal(first, second) {
		t.Fatalf("second Migrate changed schema_migrations:\n%v\n%v", first, second)
	}

	assertRecordColumns(t, conn)
	for _, table := range []string{"admin_actions", "ip_hourly", "rule_daily", "decisions_hourly",
		"ip_hourly_mv", "rule_daily_mv", "decisions_hourly_mv"} {
		if n := queryUint64(t, conn, fmt.Sprintf("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '%s'", table)); n != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// Migration 0016 keeps three views behind login_events: each one is
	// a part to write per insert (docs/history.md, "What a row costs").
	if n := queryUint64(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND engine = 'MaterializedView'"); n != 3 {
		t.Errorf("%d materialized views, want 3", n)
	}
}

// assertRecordColumns checks that the migrations created exactly the
// columns of a record (the INSERT names them all), and that each feature
// column has the type the catalogue writes to it (LowCardinality is how the
// migration stores it, not a different type).
func assertRecordColumns(t *testing.T, conn driver.Conn) {
	t.Helper()
	var name, typ string
	var names []string
	types := map[string]string{}
	forEachRow(t, conn, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'login_events' ORDER BY name",
		[]any{&name, &typ}, func() {
			names = append(names, name)
			types[name] = strings.TrimSuffix(strings.TrimPrefix(typ, "LowCardinality("), ")")
		})
	table, err := recordColumns()
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(table.names)); !slices.Equal(names, want) {
		t.Errorf("login_events columns\n%v\ndiffer from the record's\n%v", names, want)
	}
	features := 0
	for _, c := range table.columns {
		if c.feature == nil {
			continue
		}
		features++
		if got := types[c.name]; got != c.feature.ColumnType {
			t.Errorf("column %s (feature %s) is %s in login_events, the catalogue writes %s", c.name, c.feature.Name, got, c.feature.ColumnType)
		}
	}
	catalogue, _ := schemas.FeatureCatalogue()
	stored := 0
	for _, f := range catalogue {
		if f.Column != "" {
			stored++
		}
	}
	if features != stored {
		t.Errorf("%d feature columns for %d stored features", features, stored)
	}
}

func TestMigrateReportsTheFailingFile(t *testing.T) {
	dsn := freshDatabase(t)
	files := fstest.MapFS{
		"0001_fine.sql":   {Data: []byte("-- fine\nCREATE TABLE IF NOT EXISTS fine (x UInt8) ENGINE = Memory;\n")},
		"0002_broken.sql": {Data: []byte("-- broken\nCREATE TABLE IF NOT EXISTS first (x UInt8) ENGINE = Memory;\nCREATE TABLE broken (x NoSuchType) ENGINE = Memory;\n")},
		"0003_later.sql":  {Data: []byte("-- never reached\nCREATE TABLE later (x UInt8) ENGINE = Memory;\n")},
	}
	migrations, err := chschema.LoadMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(testContext(t), dsn, migrations, testLogger(t))
	if err == nil {
		t.Fatal("migrate succeeded with a broken migration")
	}
	t.Log(err)
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		t.Errorf("error %v does not carry the server's exception", err)
	}
	for _, want := range []string{"0002_broken.sql", "statement 2 of 2", "NoSuchType"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	applied := schemaMigrations(t, dsn)
	if len(applied) != 1 || applied[0].Name != "0001_fine.sql" {
		t.Errorf("applied %v, want only 0001_fine.sql", applied)
	}

	// Fixing the file lets the next run finish (the statement that did run
	// is idempotent).
	files["0002_broken.sql"] = &fstest.MapFile{Data: []byte("-- fixed\nCREATE TABLE IF NOT EXISTS first (x UInt8) ENGINE = Memory;\nCREATE TABLE IF NOT EXISTS fixed (x UInt8) ENGINE = Memory;\n")}
	if migrations, err = chschema.LoadMigrations(files); err != nil {
		t.Fatal(err)
	}
	if err := migrate(testContext(t), dsn, migrations, testLogger(t)); err != nil {
		t.Fatalf("migrate after the fix: %v", err)
	}
	if got := len(schemaMigrations(t, dsn)); got != 3 {
		t.Errorf("%d migrations applied, want 3", got)
	}
}

func TestMigrateVersionGateAndChecksum(t *testing.T) {
	dsn := freshDatabase(t)
	files := fstest.MapFS{
		"0001_base.sql":   {Data: []byte("-- base\nCREATE TABLE IF NOT EXISTS base (x UInt8) ENGINE = Memory;\n")},
		"0002_future.sql": {Data: []byte("-- needs a server from the future\n-- requires: 99.1\nCREATE TABLE future (x Nonsense) ENGINE = Memory;\n")},
	}
	migrations, err := chschema.LoadMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(testContext(t), dsn, migrations, testLogger(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if applied := schemaMigrations(t, dsn); len(applied) != 1 || applied[0].Version != 1 {
		t.Fatalf("applied %v, want only version 1 (version 2 is gated)", applied)
	}

	files["0001_base.sql"] = &fstest.MapFile{Data: []byte("-- base, edited after it was applied\nCREATE TABLE IF NOT EXISTS base (x UInt16) ENGINE = Memory;\n")}
	if migrations, err = chschema.LoadMigrations(files); err != nil {
		t.Fatal(err)
	}
	err = migrate(testContext(t), dsn, migrations, testLogger(t))
	if !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), "0001_base.sql") {
		t.Fatalf("err = %v, want ErrChecksumMismatch naming 0001_base.sql", err)
	}
}

func TestMigrateRejectsHTTPProtocol(t *testing.T) {
	err := Migrate(testContext(t), "http://127.0.0.1:8123/default", nil)
	if err == nil || !strings.Contains(err.Error(), "native protocol") {
		t.Fatalf("err = %v, want a message asking for the native protocol", err)
	}
}
