package httpapi

import (
	"context"
	"fmt"
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
	f := newFixture(t, fixtureOptions{geoip: true, history: historyQuery(dsn)})
	const user, home = "kenji@example.com", "126.72.233.117"
	f.recordHistory(dsn, kenjiEvents())
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

	// An account under attack: more attempts than one query returns, five
	// to a second, so pages meet inside a second. The newest are shown.
	var flood []event
	const floodN = 2*historyPageRows + 100
	for i := range floodN {
		outcome := "failure"
		if i == 0 {
			outcome = "success" // the owner, long before the newest rows
		}
		flood = append(flood, event{id: fmt.Sprintf("f%05d", i), user: "flood@example.com", ip: "126.72.233.117", outcome: outcome,
			at: testNow.Add(-time.Hour + time.Duration(i)*200*time.Millisecond)})
	}
	f.recordHistory(dsn, flood)
	f.getJSON("/v1/console/users/flood@example.com", readToken, &v)
	ids := column(v.History, "event_id")
	if v.Contexts.Source != "history" || len(v.Contexts.Cities) != 1 || v.Contexts.Cities[0].Value != "Tokyo, JP" {
		t.Errorf("the flooded account's known places %+v: want its one success, Tokyo, JP, read from history beyond the rows shown", v.Contexts)
	}
	if dup := len(ids) - len(uniq(ids)); dup > 0 {
		t.Errorf("the flooded timeline repeats %d attempts where its pages meet", dup)
	}
	want := fmt.Sprintf("f%05d", floodN-1)
	if len(ids) != historyRows || ids[0] != want || ids[len(ids)-1] != fmt.Sprintf("f%05d", floodN-historyRows) || v.History.Note != "" {
		t.Errorf("the flooded timeline has %d rows from %s to %s (note %q); want the newest %d, %s first", len(ids), ids[0], ids[len(ids)-1], v.History.Note, historyRows, want)
	}

	missing, _ := url.Parse(dsn)
	missing.Path = "/" + testkit.Name("loginrisk_missing")
	broken := newFixture(t, fixtureOptions{history: historyQuery(missing.String())})
	broken.getJSON("/v1/console/users/"+url.PathEscape(user), readToken, &v)
	if !v.History.Configured || v.History.Error == "" || v.Contexts.Source != "memory" {
		t.Errorf("with a failing query: history %+v, contexts from %s; want the error shown and memory's contexts", v.History, v.Contexts.Source)
	}
}

// kenjiEvents are a user's attempts: successes from home (Tokyo), failures
// from a Tor exit, the newest a minute before the clock.
func kenjiEvents() []event {
	const home, away = "126.72.233.117", "185.220.101.228"
	out := []event{{id: "k1", ip: home}, {id: "k2", ip: home}, {id: "k3", ip: away, outcome: "failure"},
		{id: "k4", ip: home}, {id: "k5", ip: away, outcome: "failure"}}
	for i := range out {
		out[i].user, out[i].at = "kenji@example.com", testNow.Add(time.Duration(i-len(out))*time.Minute)
	}
	return out
}

// recordHistory scores events through f's engine and writes them to the
// history database dsn.
func (f *fixture) recordHistory(dsn string, events []event) {
	f.t.Helper()
	var batch []schemas.ScoredEvent
	for _, e := range events {
		var ev schemas.LoginEvent
		if err := schemas.Decode(e.json(), &ev); err != nil {
			f.t.Fatal(err)
		}
		sc, err := f.eng.Score(&ev, false)
		if err != nil {
			f.t.Fatal(err)
		}
		batch = append(batch, sc.ScoredEvent)
	}
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done; w.Close() }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := w.WriteHistory(wctx, batch); err != nil {
		f.t.Fatalf("writing history: %v", err)
	}
}

// historyQuery is the Config.History of serve: the query pack on dsn.
func historyQuery(dsn string) HistoryQuery {
	return func(ctx context.Context, name string, params map[string]string) ([]string, [][]string, error) {
		return history.RunQueryText(ctx, dsn, name, params)
	}
}

// uniq returns the distinct values of s.
func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}
