package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine/history"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// openHistory builds the ClickHouse history writer when a DSN is
// configured (migrating first when asked), or returns nil. The demo says
// plainly when it runs without history.
func openHistory(ctx context.Context, cfg Config, log *slog.Logger, stderr io.Writer, migrate bool) (*history.Writer, error) {
	if cfg.ClickHouse.DSN == "" {
		return nil, nil
	}
	dsn, err := cfg.ClickHouse.connString()
	if err != nil {
		return nil, err
	}
	if migrate {
		mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := history.MigrateOnCluster(mctx, dsn, cfg.ClickHouse.Cluster, log); err != nil {
			return nil, err
		}
	}
	return history.New(cfg.ClickHouse.historyConfig(dsn, log))
}

// cmdMigrate applies the ClickHouse migrations.
func cmdMigrate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("migrate", stderr)
	cfg, err := fs.parseConfig(args, 0)
	if err != nil {
		return err
	}
	dsn, err := cfg.ClickHouse.requiredConnString()
	if err != nil {
		return err
	}
	if err := history.MigrateOnCluster(ctx, dsn, cfg.ClickHouse.Cluster, newLogger(stderr, cfg.Log)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// paramFlags collects repeated --param k=v.
type paramFlags map[string]string

func (p paramFlags) String() string { return "" }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not k=v", v)
	}
	p[k] = val
	return nil
}

// cmdQuery runs one analyst query from schemas/clickhouse/queries.
func cmdQuery(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("query", stderr)
	params := paramFlags{}
	fs.Var(params, "param", "query parameter `k=v` (repeatable)")
	format := fs.String("format", "table", "table, csv or json")
	list := fs.Bool("list", false, "list the queries and their parameters")
	// The query name may come before the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if *list || name == "" {
		return listQueries(stdout)
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	dsn, err := cfg.ClickHouse.requiredConnString()
	if err != nil {
		return err
	}
	cols, rows, err := history.RunQuery(ctx, dsn, name, params)
	if err != nil {
		return err
	}
	return history.FormatTable(stdout, cols, rows, *format)
}

func listQueries(w io.Writer) error {
	qs, err := chschema.Queries()
	if err != nil {
		return err
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].Name < qs[j].Name })
	for _, q := range qs {
		fmt.Fprintf(w, "%s — %s\n", q.Name, q.Description)
		for _, p := range q.Params {
			fmt.Fprintf(w, "    --param %s=%s\n", p.Name, p.Default)
		}
	}
	return nil
}
