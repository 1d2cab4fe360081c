package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// ErrChecksumMismatch is wrapped by the error for a migration file that
// changed after it was applied: add a new migration instead of editing one.
var ErrChecksumMismatch = errors.New("history: applied migration changed")

// Migrate brings the history schema up to date (used by `loginrisk
// migrate` and at serve start-up): it creates the DSN's database if
// missing, checks the server's version, and applies the embedded
// migrations not yet recorded in schema_migrations, in order. Running it
// again is a no-op. A migration that needs a newer server than this one
// is skipped and stays pending. A failing statement stops it with the
// file's name and the server's message; the migrations before it stay
// applied.
func Migrate(ctx context.Context, dsn string, logger *slog.Logger) error {
	return MigrateOnCluster(ctx, dsn, "", logger)
}

// MigrateOnCluster is Migrate for the ClickHouse cluster named cluster in
// the servers' remote_servers ("" is Migrate): the database, the
// schema_migrations table and every migration are rendered for the
// cluster (chschema.Cluster: Replicated*MergeTree tables named *_local
// on every node, created ON CLUSTER, and Distributed tables under the
// single-node names, which the writer and the queries use). ON CLUSTER
// needs the servers' distributed DDL, hence ZooKeeper, and so do the
// replicated tables.
func MigrateOnCluster(ctx context.Context, dsn, cluster string, logger *slog.Logger) error {
	migrations, err := chschema.Migrations()
	if err != nil {
		return fmt.Errorf("history: loading migrations: %w", err)
	}
	return migrateOn(ctx, dsn, cluster, migrations, logger)
}

func migrate(ctx context.Context, dsn string, migrations []chschema.Migration, logger *slog.Logger) error {
	return migrateOn(ctx, dsn, "", migrations, logger)
}

// clusterDDL is the DDL of a migration run: single-node, or rendered for
// a cluster.
type clusterDDL struct {
	cluster *chschema.Cluster // nil: one node
}

func newClusterDDL(cluster, database string) (clusterDDL, error) {
	if cluster == "" {
		return clusterDDL{}, nil
	}
	c := &chschema.Cluster{Name: cluster, Database: database}
	if err := c.Validate(); err != nil {
		return clusterDDL{}, err
	}
	return clusterDDL{cluster: c}, nil
}

func (d clusterDDL) database(name string) string {
	if d.cluster == nil {
		return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(name)
	}
	return d.cluster.DatabaseDDL()
}

func (d clusterDDL) schemaMigrations() (string, error) {
	if d.cluster == nil {
		return chschema.SchemaMigrationsDDL, nil
	}
	return d.cluster.SchemaMigrationsDDL()
}

func (d clusterDDL) statements(m *chschema.Migration, caps chschema.Capabilities) ([]string, error) {
	stmts, err := m.Statements(caps)
	if err != nil || d.cluster == nil {
		return stmts, err
	}
	return d.cluster.Statements(stmts)
}

func migrateOn(ctx context.Context, dsn, cluster string, migrations []chschema.Migration, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts, err := parseDSN(dsn)
	if err != nil {
		return err
	}
	database := opts.Auth.Database
	ddl, err := newClusterDDL(cluster, database)
	if err != nil {
		return err
	}

	// The database may not exist yet: connect to the user's default one
	// to create it.
	bootstrap := *opts
	bootstrap.Auth.Database = ""
	conn, err := open(&bootstrap)
	if err != nil {
		return err
	}
	version, err := serverVersion(ctx, conn)
	if err == nil {
		err = conn.Exec(ctx, ddl.database(database))
		if err != nil {
			err = fmt.Errorf("history: creating database %s: %w", database, err)
		}
	}
	conn.Close()
	if err != nil {
		return err
	}

	conn, err = open(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	migrationsDDL, err := ddl.schemaMigrations()
	if err == nil {
		err = conn.Exec(ctx, migrationsDDL)
	}
	if err != nil {
		return fmt.Errorf("history: creating %s: %w", chschema.SchemaMigrationsTable, err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return err
	}
	caps := chschema.CapabilitiesOf(version)
	logger = logger.With("database", database, "server_version", version.String())
	if cluster != "" {
		logger = logger.With("cluster", cluster)
	}
	count := 0
	for i := range migrations {
		m := &migrations[i]
		if sum, ok := applied[uint32(m.Version)]; ok {
			if sum != m.Checksum {
				return fmt.Errorf("%w: %s was applied with checksum %.12s, the file now has %.12s", ErrChecksumMismatch, m.Name, sum, m.Checksum)
			}
			continue
		}
		if !m.AppliesTo(version) {
			logger.Info("skipping migration: needs a newer server", "migration", m.Name, "requires", m.Requires.String())
			continue
		}
		stmts, err := ddl.statements(m, caps)
		if err != nil {
			return fmt.Errorf("history: migration %s: %w", m.Name, err)
		}
		start := time.Now()
		for j, stmt := range stmts {
			if err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("history: migration %s failed at statement %d of %d: %w", m.Name, j+1, len(stmts), err)
			}
		}
		if err := recordMigration(ctx, conn, m); err != nil {
			return err
		}
		count++
		logger.Info("applied migration", "migration", m.Name, "statements", len(stmts), "took", time.Since(start).Round(time.Millisecond))
	}
	if count == 0 {
		logger.Debug("history schema up to date")
	}
	return nil
}

// appliedMigrations returns the recorded versions and their checksums.
func appliedMigrations(ctx context.Context, conn driver.Conn) (map[uint32]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, argMax(checksum, applied_at) FROM "+chschema.SchemaMigrationsTable+" GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("history: reading %s: %w", chschema.SchemaMigrationsTable, err)
	}
	defer rows.Close()
	out := make(map[uint32]string)
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("history: reading %s: %w", chschema.SchemaMigrationsTable, err)
		}
		out[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: reading %s: %w", chschema.SchemaMigrationsTable, err)
	}
	return out, nil
}

func recordMigration(ctx context.Context, conn driver.Conn, m *chschema.Migration) error {
	err := insertRow(ctx, conn, "INSERT INTO "+chschema.SchemaMigrationsTable+" (version, name, checksum, applied_at)",
		uint32(m.Version), m.Name, m.Checksum, time.Now())
	if err != nil {
		return fmt.Errorf("history: recording migration %s: %w", m.Name, err)
	}
	return nil
}
