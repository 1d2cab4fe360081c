package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/loginrisk/loginrisk/features/enrich"
)

// existingDemoGeoIP returns the test databases that exist; a missing one
// is left empty.
func existingDemoGeoIP() enrich.EnricherConfig {
	g := demoGeoIP()
	for _, p := range []*string{&g.CityPath, &g.ASNPath, &g.AnonymousPath} {
		*p = repoFile(*p)
		if _, err := os.Stat(*p); err != nil {
			*p = ""
		}
	}
	return g
}

// repoFile resolves a path relative to the repository root when run from a
// sub-folder (go test runs in the package folder).
func repoFile(rel string) string {
	dir, _ := os.Getwd()
	for range 5 {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return rel
}

// demoClickHouseDatabase is where the demo keeps the history it writes to
// a ClickHouse it found by itself, away from anything else there.
const demoClickHouseDatabase = "loginrisk_demo"

// findDemoClickHouse looks for a ClickHouse on this machine (the host of
// $CLICKHOUSE_DSN, else 127.0.0.1:9000) and returns a DSN for the demo's
// own database on it, or "" after saying plainly that there is none.
func findDemoClickHouse(ctx context.Context, stderr io.Writer) string {
	host := "127.0.0.1:9000"
	if env := os.Getenv("CLICKHOUSE_DSN"); env != "" {
		if u, err := url.Parse(env); err == nil && u.Host != "" {
			host = u.Host
		}
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if err != nil {
		fmt.Fprintf(stderr, "demo: no ClickHouse on %s (%v): history is off. To watch the analysts' tables fill, start one (scripts/services.sh up starts Debian's clickhouse-server) and run again, or pass --clickhouse-dsn DSN.\n", host, err)
		return ""
	}
	conn.Close()
	dsn := "clickhouse://" + host + "/" + demoClickHouseDatabase
	fmt.Fprintf(stderr, "demo: ClickHouse found on %s: history goes to database %s (--no-clickhouse to skip)\n", host, demoClickHouseDatabase)
	return dsn
}
