package history

import (
	"errors"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/loginrisk/loginrisk/engine/testkit"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// ClickHouse exception codes the cluster tests tell apart.
const (
	codeSyntaxError     = 62  // SYNTAX_ERROR: the statement did not parse
	codeClusterNotFound = 170 // BAD_GET: "Requested cluster ... not found", after parsing
	codeNoDDLWorker     = 49  // LOGICAL_ERROR "DDL background thread is not initialized": no ZooKeeper
)

// exceptionCode is the server's exception code of err, or 0.
func exceptionCode(err error) int32 {
	var exc *clickhouse.Exception
	if errors.As(err, &exc) {
		return exc.Code
	}
	return 0
}

// clusterStatements is every statement MigrateOnCluster would run for
// the database on a server of caps, in order.
func clusterStatements(t *testing.T, cluster, database string, version chschema.ServerVersion) []string {
	t.Helper()
	ddl, err := newClusterDDL(cluster, database)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := ddl.schemaMigrations()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{ddl.database(database), sm}
	migs, err := chschema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i := range migs {
		if !migs[i].AppliesTo(version) {
			continue
		}
		stmts, err := ddl.statements(&migs[i], chschema.CapabilitiesOf(version))
		if err != nil {
			t.Fatalf("%s: %v", migs[i].Name, err)
		}
		out = append(out, stmts...)
	}
	return out
}

// TestClusterDDLParses sends every statement of clickhouse.cluster's
// migration to the real server for a cluster it does not have: ClickHouse
// parses a statement before it looks the cluster up, so each must fail
// with "cluster not found" (170) and none with a syntax error (62), which
// a broken statement gets. This checks the syntax of the ON CLUSTER, the
// Replicated engines' arguments and the Distributed tables on the
// server's own parser; it creates nothing.
func TestClusterDDLParses(t *testing.T) {
	dsn := testkit.ClickHouse(t)
	conn := testConn(t, dsn)
	ctx := testContext(t)
	version, err := serverVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	const cluster = "loginrisk_no_such_cluster"
	stmts := clusterStatements(t, cluster, "loginrisk_cluster_parse", version)
	for _, stmt := range stmts {
		if code := exceptionCode(conn.Exec(ctx, stmt)); code != codeClusterNotFound {
			t.Errorf("code %d, want %d (parsed, then cluster not found), for:\n%s", code, codeClusterNotFound, stmt)
		}
	}
	// The check can fail: a statement with one parenthesis too many.
	broken := strings.Replace(stmts[len(stmts)-1], " ON CLUSTER ", " ON CLUSTER (", 1)
	if code := exceptionCode(conn.Exec(ctx, broken)); code != codeSyntaxError {
		t.Errorf("a broken statement got code %d, want %d", code, codeSyntaxError)
	}
	t.Logf("%d statements parsed by ClickHouse %s", len(stmts), version)
}

var (
	onCluster  = regexp.MustCompile(` ON CLUSTER [A-Za-z0-9_]+`)
	replicated = regexp.MustCompile(`Replicated([A-Za-z]*MergeTree)\('[^']*', '[^']*'(, )?`)
)

// withoutZooKeeper is a cluster statement as one node runs it without
// ZooKeeper: not ON CLUSTER (distributed DDL needs ZooKeeper) and with
// the engine the replicated one replicates (so do Replicated tables).
// Everything else — the *_local names, the Distributed tables over the
// cluster, the views between local tables, the ALTERs of both — is the
// cluster text.
func withoutZooKeeper(stmt string) string {
	return replicated.ReplaceAllString(onCluster.ReplaceAllString(stmt, ""), "$1(")
}

// TestClusterHistoryAnswersLikeOneNode applies clickhouse.cluster's
// schema to a real cluster (CLICKHOUSE_CLUSTER_DSN, a server whose
// remote_servers define CLICKHOUSE_CLUSTER: scripts/clickhouse.sh with
// CLICKHOUSE_CLUSTER set makes a one-shard one), writes the analyst
// dataset through the Distributed tables with the writer, and checks that
// every analyst query answers as on one node (CLICKHOUSE_DSN). Without
// ZooKeeper, ON CLUSTER and Replicated tables cannot run: MigrateOnCluster
// must then fail at the distributed DDL (which shows the cluster was
// found), and the schema is applied from the same statements without
// ON CLUSTER and with the engines they replicate.
func TestClusterHistoryAnswersLikeOneNode(t *testing.T) {
	clusterDSN, cluster := os.Getenv("CLICKHOUSE_CLUSTER_DSN"), os.Getenv("CLICKHOUSE_CLUSTER")
	if clusterDSN == "" || cluster == "" {
		t.Skip("CLICKHOUSE_CLUSTER_DSN and CLICKHOUSE_CLUSTER not set (docs/scaling.md says how to start a one-shard cluster)")
	}
	single := migratedDatabase(t)
	ctx := testContext(t)

	name := "loginrisk_cluster_" + strings.ReplaceAll(time.Now().UTC().Format("150405.000000"), ".", "_")
	base := testConn(t, clusterDSN)
	t.Cleanup(func() { _ = base.Exec(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)) })
	u, err := url.Parse(clusterDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("insert_distributed_sync", "1") // as serve sets it with clickhouse.cluster
	u.RawQuery = q.Encode()
	dsn := u.String()

	err = MigrateOnCluster(ctx, dsn, cluster, testLogger(t))
	switch code := exceptionCode(err); {
	case err == nil:
		t.Log("the cluster has distributed DDL (ZooKeeper): migrated ON CLUSTER with replicated tables")
	case code == codeNoDDLWorker:
		t.Logf("no ZooKeeper on the cluster (%v): applying the cluster schema without ON CLUSTER and replication", err)
		version, err := serverVersion(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		stmts := clusterStatements(t, cluster, name, version)
		if err := base.Exec(ctx, withoutZooKeeper(stmts[0])); err != nil { // the database
			t.Fatal(err)
		}
		db := testConn(t, dsn)
		for _, stmt := range stmts[1:] {
			if err := db.Exec(ctx, withoutZooKeeper(stmt)); err != nil {
				t.Fatalf("%v:\n%s", err, withoutZooKeeper(stmt))
			}
		}
	default:
		t.Fatalf("MigrateOnCluster: %v (code %d), want success or no distributed DDL (%d)", err, code, codeNoDDLWorker)
	}
	conn := testConn(t, dsn)
	if n := queryUint64(t, conn, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND engine = 'Distributed'"); n < 5 {
		t.Fatalf("%d Distributed tables", n)
	}

	for _, target := range []string{single, dsn} {
		w := startWriter(t, Config{DSN: target, FlushInterval: 10 * time.Millisecond})
		writeAnalystData(t, w)
	}
	if n := queryUint64(t, conn, "SELECT count() FROM login_events_local"); n != uint64(len(analystDataset())) {
		t.Errorf("the shard's local table holds %d rows, want %d: the writer did not write through the Distributed table", n, len(analystDataset()))
	}

	queries, err := chschema.Queries()
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "user_id": "u1", "address": "203.0.113.7"}
	nonEmpty := 0
	for _, query := range queries {
		p := map[string]string{}
		for _, qp := range query.Params {
			if v, ok := params[qp.Name]; ok {
				p[qp.Name] = v
			}
		}
		wantCols, want, err := RunQueryText(ctx, single, query.Name, p)
		if err != nil {
			t.Fatalf("%s on one node: %v", query.Name, err)
		}
		gotCols, got, err := RunQueryText(ctx, dsn, query.Name, p)
		if err != nil {
			t.Errorf("%s on the cluster: %v", query.Name, err)
			continue
		}
		if !slices.Equal(gotCols, wantCols) || !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Errorf("%s: the cluster answered %v %v, one node %v %v", query.Name, gotCols, got, wantCols, want)
		}
		if len(want) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < len(queries)/2 {
		t.Errorf("only %d of %d queries returned rows: the comparison shows little", nonEmpty, len(queries))
	}
	t.Logf("%d analyst queries answer alike, %d with rows", len(queries), nonEmpty)
}
