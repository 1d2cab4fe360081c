package history

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// ErrUnsupportedServer is wrapped by the error for a server older than
// the schema supports.
var ErrUnsupportedServer = errors.New("history: unsupported ClickHouse server")

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseDSN parses a clickhouse-go DSN ("clickhouse://user:pass@host:9000/db?...")
// and checks that it uses the native protocol: clickhouse-go's HTTP
// protocol needs a newer server than 18.16. The database defaults to
// "default".
func parseDSN(dsn string) (*clickhouse.Options, error) {
	if dsn == "" {
		return nil, errors.New("history: dsn is required (e.g. clickhouse://127.0.0.1:9000/loginrisk)")
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("history: parsing dsn: %w", err)
	}
	if opts.Protocol != clickhouse.Native {
		return nil, fmt.Errorf("history: dsn uses the %s protocol; use the native protocol (clickhouse://host:9000/db)", opts.Protocol)
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	if !databaseName.MatchString(opts.Auth.Database) {
		return nil, fmt.Errorf("history: database name %q: use letters, digits and underscores", opts.Auth.Database)
	}
	return opts, nil
}

// open opens a connection pool. Nothing is dialled until it is used.
//
// Compatibility with ClickHouse 18.16 (protocol revision 54412): the
// native protocol of clickhouse-go v2.51 negotiates down to the server's
// revision, so handshake, queries and PrepareBatch/Send work. Settings
// sent with queries must be integers or booleans: below revision 54429
// settings are serialised as numbers, and clickhouse-go refuses others
// client-side. No settings are sent by default.
func open(opts *clickhouse.Options) (driver.Conn, error) {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("history: opening clickhouse connection: %w", err)
	}
	return conn, nil
}

// serverVersion asks the server for its release.
func serverVersion(ctx context.Context, conn driver.Conn) (chschema.ServerVersion, error) {
	var s string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&s); err != nil {
		return chschema.ServerVersion{}, fmt.Errorf("history: asking the server version: %w", err)
	}
	v, err := chschema.ParseServerVersion(s)
	if err != nil {
		return chschema.ServerVersion{}, fmt.Errorf("history: %w", err)
	}
	if minimum := chschema.MinServerVersion(); !v.AtLeast(minimum) {
		return v, fmt.Errorf("%w: ClickHouse %s is older than %s", ErrUnsupportedServer, v, minimum)
	}
	return v, nil
}

// quoteIdent backquotes an identifier already checked by databaseName.
func quoteIdent(name string) string { return "`" + name + "`" }

// insertRow inserts one row at once, not through the writer's buffer:
// the admin actions, feedback labels and applied migrations that a caller
// waits for. A row the batch refuses aborts it.
func insertRow(ctx context.Context, conn driver.Conn, insertSQL string, values ...any) error {
	b, err := conn.PrepareBatch(ctx, insertSQL)
	if err != nil {
		return err
	}
	if err := b.Append(values...); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}
