package clickhouse

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestClusterRendersEveryMigration: every migration renders for a
// cluster, for the oldest and a current server; each table becomes a
// replicated *_local table with the {shard} and {replica} macros and a
// Distributed table under its single-node name; views read and fill the
// local tables; every statement runs ON CLUSTER.
func TestClusterRendersEveryMigration(t *testing.T) {
	migs, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	c := Cluster{Name: "lr", Database: "history"}
	replicated := regexp.MustCompile(`ENGINE = Replicated[A-Za-z]*MergeTree\('/clickhouse/tables/\{shard\}/history/([a-z_]+)_local', '\{replica\}'`)
	distributed := regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS ([a-z_]+) ON CLUSTER lr AS history\.([a-z_]+)_local\nENGINE = Distributed\(lr, history, ([a-z_]+)_local, (cityHash64\(user_id\)|rand\(\))\)$`)
	for _, caps := range []Capabilities{CapabilitiesOf(MinServerVersion()), CapabilitiesOf(ServerVersion{Major: 99})} {
		tables := map[string]bool{}
		for _, m := range migs {
			single, err := m.Statements(caps)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Statements(single)
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			if len(out) < len(single) {
				t.Errorf("%s: %d statements for %d", m.Name, len(out), len(single))
			}
			for _, s := range out {
				if !strings.Contains(s, " ON CLUSTER lr") {
					t.Errorf("%s: not ON CLUSTER: %s", m.Name, s)
				}
				switch {
				case strings.HasPrefix(s, "CREATE TABLE"):
					if r := replicated.FindStringSubmatch(s); r != nil {
						if !strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS "+r[1]+"_local ON CLUSTER lr") {
							t.Errorf("%s: replicated table's path names another table: %s", m.Name, s)
						}
						tables[r[1]] = true
					} else if d := distributed.FindStringSubmatch(s); d != nil {
						if d[1] != d[2] || d[1] != d[3] || !tables[d[1]] {
							t.Errorf("%s: Distributed table over another or an unknown table: %s", m.Name, s)
						}
					} else {
						t.Errorf("%s: neither a replicated nor a Distributed table: %s", m.Name, s)
					}
				case strings.HasPrefix(s, "CREATE MATERIALIZED VIEW"):
					if !regexp.MustCompile(`TO [a-z_]+_local AS `).MatchString(s) || !regexp.MustCompile(`FROM [a-z_]+_local\b`).MatchString(s) {
						t.Errorf("%s: a view between other than local tables: %s", m.Name, s)
					}
				case strings.HasPrefix(s, "ALTER TABLE"), strings.HasPrefix(s, "DROP TABLE IF EXISTS"):
				default:
					t.Errorf("%s: unexpected statement %s", m.Name, s)
				}
			}
		}
		if !tables["login_events"] || !tables["feedback"] {
			t.Errorf("tables rendered: %v", tables)
		}
	}
}

// TestClusterKeepsOneCopyOfTheDDL: the cluster statements are the
// single-node ones with the names, engines and ON CLUSTER changed: the
// columns and keys are not a second copy.
func TestClusterKeepsOneCopyOfTheDDL(t *testing.T) {
	c := Cluster{Name: "lr", Database: "db"}
	single := "-- a comment\nCREATE TABLE IF NOT EXISTS t\n(\n    user_id String,\n    at DateTime('UTC')\n)\nENGINE = ReplacingMergeTree(at)\nORDER BY (user_id, at)"
	out, err := c.Statements([]string{single,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS v TO agg AS SELECT user_id, count() AS n FROM t GROUP BY user_id",
		"ALTER TABLE t ADD COLUMN x UInt8, MODIFY COLUMN e Enum8('' = 0, 'a,b' = 1)",
		"ALTER TABLE t ADD INDEX i x TYPE minmax GRANULARITY 1",
		"DROP TABLE IF EXISTS v",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE IF NOT EXISTS t_local ON CLUSTER lr\n(\n    user_id String,\n    at DateTime('UTC')\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/t_local', '{replica}', at)\nORDER BY (user_id, at)",
		"CREATE TABLE IF NOT EXISTS t ON CLUSTER lr AS db.t_local\nENGINE = Distributed(lr, db, t_local, cityHash64(user_id))",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER lr TO agg_local AS SELECT user_id, count() AS n FROM t_local GROUP BY user_id",
		"ALTER TABLE t_local ON CLUSTER lr ADD COLUMN x UInt8, MODIFY COLUMN e Enum8('' = 0, 'a,b' = 1)",
		"ALTER TABLE t ON CLUSTER lr ADD COLUMN x UInt8, MODIFY COLUMN e Enum8('' = 0, 'a,b' = 1)",
		"ALTER TABLE t_local ON CLUSTER lr ADD INDEX i x TYPE minmax GRANULARITY 1",
		"DROP TABLE IF EXISTS v ON CLUSTER lr",
		"DROP TABLE IF EXISTS v_local ON CLUSTER lr",
	}
	if len(out) != len(want) {
		t.Fatalf("got %d statements, want %d:\n%s", len(out), len(want), strings.Join(out, ";\n"))
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("statement %d:\n got %s\nwant %s", i+1, out[i], want[i])
		}
	}
	ddl, err := c.SchemaMigrationsDDL()
	if err != nil || !strings.Contains(ddl, "CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER lr") ||
		!strings.Contains(ddl, "ReplicatedReplacingMergeTree('/clickhouse/tables/all/db/schema_migrations', '{replica}', applied_at)") {
		t.Errorf("schema_migrations on the cluster: %v\n%s", err, ddl)
	}
}

// TestClusterRefusesWhatItCannotRender: a statement of a new kind, a view
// of two tables, or an ALTER that is neither a column nor an index change
// is an error, not a silently single-node statement.
func TestClusterRefusesWhatItCannotRender(t *testing.T) {
	c := Cluster{Name: "lr", Database: "db"}
	for _, tc := range []struct{ name, stmt string }{
		{"drop without IF EXISTS", "DROP TABLE t"},
		{"view of a join", "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO a AS SELECT * FROM t JOIN u USING (id)"},
		{"alter ttl", "ALTER TABLE t MODIFY TTL at + INTERVAL 1 DAY"},
		{"engine not a MergeTree", "CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Statements([]string{tc.stmt}); !errors.Is(err, ErrClusterDDL) {
				t.Errorf("%s: err %v, want ErrClusterDDL", tc.stmt, err)
			}
		})
	}
	for _, bad := range []Cluster{{Name: "", Database: "db"}, {Name: "lr; DROP", Database: "db"}, {Name: "lr", Database: "1db"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: valid", bad)
		}
	}
}
