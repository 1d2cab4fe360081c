package httpapi

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// historyDatabase migrates a fresh database on the test's ClickHouse and
// returns its DSN; the database is dropped when the test ends.
func historyDatabase(t *testing.T) string {
	t.Helper()
	base := testkit.ClickHouse(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("CLICKHOUSE_DSN %q: %v", base, err)
	}
	name := testkit.Name("loginrisk_console")
	u.Path = "/" + name
	dsn := u.String()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := history.Migrate(ctx, dsn, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrating %s: %v", name, err)
	}
	t.Cleanup(func() {
		opts, err := clickhouse.ParseDSN(base)
		if err != nil {
			t.Error(err)
			return
		}
		conn, err := clickhouse.Open(opts)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	return dsn
}

// TestConsoleTimelinesFromClickHouse checks that, with history configured,
// the user and address views read their timelines from ClickHouse through
// the query pack (user_timeline, address_timeline), newest first, and take
// a user's known places from it; and that a failing query is shown, not
// answered as an error.
func TestConsoleTimelinesFromClickHouse(t *testing.T) {
	dsn := historyDatabase(t)
	query := func(ctx context.Context, name string, params map[string]string) ([]string, [][]string, error) {
		return history.RunQueryText(ctx, dsn, name, params)
	}
	f := newFixture(t, fixtureOptions{geoip: true, history: query})
	const user, home, away = "kenji@example.com", "126.72.233.117", "185.220.101.228"
	var batch []schemas.ScoredEvent
	for i, e := range []event{
		{id: "k1", ip: home}, {id: "k2", ip: home}, {id: "k3", ip: away, outcome: "failure"},
		{id: "k4", ip: home}, {id: "k5", ip: away, outcome: "failure"},
	} {
		e.user, e.at = user, testNow.Add(time.Duration(i-10)*time.Minute)
		var ev schemas.LoginEvent
		if err := schemas.Decode(e.json(), &ev); err != nil {
			t.Fatal(err)
		}
		sc, err := f.eng.Score(&ev, false)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, sc.ScoredEvent)
	}
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; w.Close() })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := w.WriteHistory(wctx, batch); err != nil {
		t.Fatalf("writing history: %v", err)
	}

	column := func(h historyView, name string) []string {
		t.Helper()
		for i, c := range h.Columns {
			if c == name {
				out := make([]string, len(h.Rows))
				for j, r := range h.Rows {
					out[j] = r[i]
				}
				return out
			}
		}
		t.Fatalf("the timeline %s has no column %s (%v)", h.Query, name, h.Columns)
		return nil
	}
	var v subjectView
	f.getJSON("/v1/console/users/"+url.PathEscape(user), readToken, &v)
	if !v.History.Configured || v.History.Error != "" || v.History.Query != "user_timeline" {
		t.Fatalf("history %+v, want user_timeline rows", v.History)
	}
	if ids := column(v.History, "event_id"); len(ids) != 5 || ids[0] != "k5" || ids[4] != "k1" {
		t.Errorf("the user's timeline lists %v, want k5 … k1 (newest first)", ids)
	}
	if v.Contexts.Source != "history" || len(v.Contexts.Cities) != 1 || v.Contexts.Cities[0].Value != "Tokyo, JP" || v.Contexts.Cities[0].Count != 3 {
		t.Errorf("known contexts %+v, want Tokyo, JP ×3 from history", v.Contexts)
	}

	for _, tc := range []struct{ subject, want string }{{home, "k4 k2 k1"}, {"185.220.101.0/24", "k5 k3"}} {
		f.getJSON("/v1/console/ips/"+url.PathEscape(tc.subject), readToken, &v)
		if !v.History.Configured || v.History.Query != "address_timeline" {
			t.Fatalf("%s: history %+v", tc.subject, v.History)
		}
		if got := column(v.History, "event_id"); len(got) == 0 || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: the timeline lists %v, want %s", tc.subject, got, tc.want)
		}
	}

	broken := newFixture(t, fixtureOptions{history: func(ctx context.Context, name string, params map[string]string) ([]string, [][]string, error) {
		u, _ := url.Parse(dsn)
		u.Path = "/" + testkit.Name("loginrisk_missing")
		return history.RunQueryText(ctx, u.String(), name, params)
	}})
	broken.getJSON("/v1/console/users/"+url.PathEscape(user), readToken, &v)
	if !v.History.Configured || v.History.Error == "" || v.Contexts.Source != "memory" {
		t.Errorf("with a failing query: history %+v, contexts from %s; want the error shown and memory's contexts", v.History, v.Contexts.Source)
	}
}
