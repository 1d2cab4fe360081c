package clickhouse

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Cluster renders the single-node DDL of the migrations for a ClickHouse
// cluster (clickhouse.cluster): every table becomes a Replicated*MergeTree
// table named with LocalSuffix on every node, created ON CLUSTER, plus a
// Distributed table under the single-node name over those, so that the
// writer's inserts and the analyst queries, which name the single-node
// tables, read and write the whole cluster unchanged. Materialized views
// are created on every node between the local tables, so each shard
// derives its own aggregates from its own rows. There is one text of each
// migration; this is a rendering of it, not a second copy.
type Cluster struct {
	// Name is the cluster of the servers' remote_servers section.
	Name string
	// Database is the database of the tables, in the ZooKeeper paths and
	// the Distributed tables.
	Database string
}

// LocalSuffix ends the name of the replicated table each node holds; the
// Distributed table over them keeps the single-node name.
const LocalSuffix = "_local"

// ReplicaPath is the ZooKeeper path of a replicated table: one replica set
// per shard ({shard} macro), one replica per node ({replica} macro), both
// defined in each server's <macros>.
const ReplicaPath = "/clickhouse/tables/{shard}/%s/%s"

// clusterName is the form of a cluster or database name loginrisk puts
// into DDL unquoted.
var clusterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ErrClusterDDL is wrapped by the error for a statement the cluster
// rendering does not know how to turn into cluster DDL: a new kind of
// migration statement needs a rule here.
var ErrClusterDDL = errors.New("clickhouse: statement cannot be rendered for a cluster")

// Validate reports what is wrong with the cluster's names.
func (c Cluster) Validate() error {
	var errs []error
	if !clusterName.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("clickhouse.cluster: %q must be letters, digits and underscores, not starting with a digit", c.Name))
	}
	if !clusterName.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse: database %q must be letters, digits and underscores", c.Database))
	}
	return errors.Join(errs...)
}

var (
	createTable = regexp.MustCompile(`(?is)^CREATE TABLE IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)(\s*\(([^()]*)\))?(.*)$`)
	createView  = regexp.MustCompile(`(?is)^CREATE MATERIALIZED VIEW IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*)\s+TO\s+([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+(.*)$`)
	alterTable  = regexp.MustCompile(`(?is)^ALTER TABLE ([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$`)
	dropTable   = regexp.MustCompile(`(?is)^DROP TABLE IF EXISTS ([A-Za-z_][A-Za-z0-9_]*)$`)
	fromTable   = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)`)
	joinClause  = regexp.MustCompile(`(?i)\bJOIN\s+([A-Za-z_][A-Za-z0-9_]*)\s+(ON|USING)\b`)
	indexOp     = regexp.MustCompile(`(?i)\b(ADD|DROP|MATERIALIZE|CLEAR)\s+INDEX\b`)
	columnOp    = regexp.MustCompile(`(?i)^\s*(ADD|DROP|MODIFY|COMMENT)\s+COLUMN\b`)
	userIDCol   = regexp.MustCompile(`(?m)^\s*user_id\s+`)
)

// Statements renders single-node statements (Migration.Statements) for
// the cluster, in order:
//
//   - CREATE TABLE t (...) ENGINE = XMergeTree(args) ... becomes
//     CREATE TABLE t_local ON CLUSTER c (...) ENGINE =
//     ReplicatedXMergeTree('/clickhouse/tables/{shard}/db/t_local',
//     '{replica}', args) ..., then CREATE TABLE t ON CLUSTER c AS
//     db.t_local ENGINE = Distributed(c, db, t_local, key), where key is
//     cityHash64(user_id) for a table with a user_id column (a user's
//     rows on one shard, where ReplacingMergeTree dedupes a redelivered
//     event) and rand() otherwise;
//   - CREATE MATERIALIZED VIEW v TO t AS SELECT ... FROM s becomes
//     CREATE MATERIALIZED VIEW v ON CLUSTER c TO t_local AS SELECT ...
//     FROM s_local;
//   - ALTER TABLE t ops becomes ALTER TABLE t_local ON CLUSTER c ops, and,
//     when the ops change columns, the same on the Distributed t (a skip
//     index exists only on the local tables);
//   - DROP TABLE IF EXISTS t becomes DROP TABLE IF EXISTS t ON CLUSTER c
//     and the same of t_local: a table is both, a view only the first
//     (the second then drops nothing).
//
// Anything else is an error wrapping ErrClusterDDL.
func (c Cluster) Statements(single []string) ([]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var out []string
	for i, stmt := range single {
		rendered, err := c.statement(stripComments(stmt))
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		out = append(out, rendered...)
	}
	return out, nil
}

func (c Cluster) statement(stmt string) ([]string, error) {
	on := " ON CLUSTER " + c.Name
	if m := createTable.FindStringSubmatch(stmt); m != nil {
		name, columns, engine, args, rest := m[1], m[2], m[3], strings.TrimSpace(m[5]), m[6]
		local := name + LocalSuffix
		replicated := fmt.Sprintf("'"+ReplicaPath+"', '{replica}'", c.Database, local)
		if args != "" {
			replicated += ", " + args
		}
		key := "rand()"
		if userIDCol.MatchString(columns) {
			key = "cityHash64(user_id)"
		}
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s\n(%s)\nENGINE = Replicated%s(%s)%s", local, on, columns, engine, replicated, rest),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s.%s\nENGINE = Distributed(%s, %s, %s, %s)", name, on, c.Database, local, c.Name, c.Database, local, key),
		}, nil
	}
	if m := createView.FindStringSubmatch(stmt); m != nil {
		view, target, query := m[1], m[2], m[3]
		if joinClause.MatchString(query) {
			return nil, fmt.Errorf("%w: the view %s joins a table", ErrClusterDDL, view)
		}
		froms := fromTable.FindAllStringSubmatchIndex(query, -1)
		if len(froms) != 1 {
			return nil, fmt.Errorf("%w: the view %s reads %d tables, want one FROM", ErrClusterDDL, view, len(froms))
		}
		f := froms[0]
		query = query[:f[3]] + LocalSuffix + query[f[3]:]
		return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s%s AS %s", view, on, target, LocalSuffix, query)}, nil
	}
	if m := alterTable.FindStringSubmatch(stmt); m != nil {
		name, ops := m[1], m[2]
		out := []string{fmt.Sprintf("ALTER TABLE %s%s%s %s", name, LocalSuffix, on, ops)}
		if indexOp.MatchString(ops) {
			return out, nil
		}
		for _, op := range splitTopLevel(ops) {
			if !columnOp.MatchString(op) {
				return nil, fmt.Errorf("%w: ALTER TABLE %s does %q, neither a column nor a skip index change", ErrClusterDDL, name, clipDDL(op))
			}
		}
		return append(out, fmt.Sprintf("ALTER TABLE %s%s %s", name, on, ops)), nil
	}
	if m := dropTable.FindStringSubmatch(stmt); m != nil {
		return []string{
			fmt.Sprintf("DROP TABLE IF EXISTS %s%s", m[1], on),
			fmt.Sprintf("DROP TABLE IF EXISTS %s%s%s", m[1], LocalSuffix, on),
		}, nil
	}
	return nil, fmt.Errorf("%w: %q is not CREATE TABLE, CREATE MATERIALIZED VIEW, ALTER TABLE or DROP TABLE IF EXISTS", ErrClusterDDL, clipDDL(stmt))
}

// DatabaseDDL creates the cluster's database on every node.
func (c Cluster) DatabaseDDL() string {
	return "CREATE DATABASE IF NOT EXISTS " + c.Database + " ON CLUSTER " + c.Name
}

// SchemaMigrationsDDL creates SchemaMigrationsTable on every node, one
// replica set for the whole cluster (no {shard} in its path), so that
// every node knows which migrations were applied, whichever node ran them.
func (c Cluster) SchemaMigrationsDDL() (string, error) {
	stmts, err := c.Statements([]string{SchemaMigrationsDDL})
	if err != nil {
		return "", err
	}
	// The local table alone, under the single-node name, replicated
	// across all shards.
	ddl := strings.ReplaceAll(stmts[0], SchemaMigrationsTable+LocalSuffix, SchemaMigrationsTable)
	ddl = strings.Replace(ddl, "/clickhouse/tables/{shard}/", "/clickhouse/tables/all/", 1)
	return ddl, nil
}

// stripComments removes whole comment lines (the header of a migration
// stays attached to its first statement).
func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

// splitTopLevel splits ALTER operations at the commas outside brackets
// and quotes.
func splitTopLevel(ops string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(ops); i++ {
		switch ops[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '\'':
			if end, ok := closingQuote(ops, i); ok {
				i = end
			}
		case ',':
			if depth == 0 {
				out = append(out, ops[start:i])
				start = i + 1
			}
		}
	}
	return append(out, ops[start:])
}

// clipDDL shortens a statement quoted in an error.
func clipDDL(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
