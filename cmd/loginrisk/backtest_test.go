package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/backtest"
	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/schemas"
)

// shippedRulesWith copies the shipped rules into a folder, replacing old
// with new (which must occur exactly once), and returns the folder.
func shippedRulesWith(t *testing.T, old, new string) string {
	t.Helper()
	src := repoFile("rules/default")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		found += strings.Count(string(data), old)
		if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if found != 1 {
		t.Fatalf("%q occurs %d times in the shipped rules, want once", old, found)
	}
	return dir
}

// impossibleTravelWeight is the shipped impossible_travel rule's weight
// line; raising it to 40 turns its 65-point challenges into lockouts.
const impossibleTravelWeight = "!(tor_exit || anonymous_vpn || public_proxy)\n    weight: 35"

func TestBacktestSameRulesChangeNothing(t *testing.T) {
	dir := t.TempDir()
	if _, stderr, code := runCLI(t, "", "eval", "--generate", dir, "--scale", "0.04"); code != 0 {
		t.Fatal(stderr)
	}
	same := shippedRulesWith(t, "weight: 35", "weight: 35")
	out, stderr, code := runCLI(t, "", "backtest", "--rules", same, "--events", filepath.Join(dir, eval.EventsFile))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "0 decisions change") || strings.Contains(out, "Causes") || !strings.Contains(out, backtest.NoLabels) {
		t.Errorf("the shipped rules against themselves:\n%s", out)
	}
}

func TestBacktestReportsAKnownChange(t *testing.T) {
	next := shippedRulesWith(t, impossibleTravelWeight, strings.Replace(impossibleTravelWeight, "35", "40", 1))
	// travel-sf (challenged today) and travel-london-later (allowed) are
	// called attacks, the London logins before them genuine.
	var lines []string
	for i := range 7 {
		lines = append(lines, `{"event_id":"travel-london-`+string(rune('0'+i))+`","kind":"home","attack":false}`)
	}
	lines = append(lines, `{"event_id":"travel-sf","kind":"stolen","attack":true}`, `{"event_id":"travel-london-later","kind":"stolen","attack":true}`)
	labels := writeFile(t, "labels.ndjson", strings.Join(lines, "\n"))
	out, stderr, code := runCLI(t, "", "backtest", "--rules", next, "--events", repoFile("testdata/fixtures/travel.ndjson"), "--labels", labels)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"10 events scored by both",
		"1 decisions change (10.00 %)\n  challenge -> lockout   1\n\nCauses",
		"  impossible_travel: 1 events (challenge -> lockout 1)\n    e.g. travel-sf user traveler ip 73.162.88.19: challenge (score 65) -> lockout (score 70)\n",
		"Against the labels (9 labelled events",
		"base precision 1.0000 recall 0.5000 (true positives 1, false positives 0, missed attacks 1)",
		"new  precision 1.0000 recall 0.5000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("backtest output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "e.g.") != 1 {
		t.Errorf("want exactly one example:\n%s", out)
	}
	// --base: the change undone, against the shipped rules as the new side.
	same := shippedRulesWith(t, impossibleTravelWeight, impossibleTravelWeight)
	out, stderr, code = runCLI(t, "", "backtest", "--base", next, "--rules", same, "--events", repoFile("testdata/fixtures/travel.ndjson"))
	if code != 0 || !strings.Contains(out, "  lockout   -> challenge 1\n") || !strings.Contains(out, "travel-sf user traveler ip 73.162.88.19: lockout (score 70) -> challenge (score 65)") {
		t.Errorf("with --base: exit %d %s\n%s", code, stderr, out)
	}
}

// TestBacktestFromClickHouse stores scored events with the history writer
// in a fresh database, then backtests from it: the report is the one the
// same events give from a file.
func TestBacktestFromClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn, _ := historyDB(ctx, t, "backtest")

	dir := t.TempDir()
	if _, stderr, code := runCLI(t, "", "eval", "--generate", dir, "--scale", "0.04", "--seed", "5"); code != 0 {
		t.Fatal(stderr)
	}
	events := filepath.Join(dir, eval.EventsFile)
	ids := storeScored(ctx, t, dsn, events)
	// Analysts labelled three of the events: the backtest measures both
	// sides against the feedback table when no --labels file is given.
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range []schemas.FeedbackLabel{schemas.LabelConfirmedAttack, schemas.LabelFalsePositive, schemas.LabelConfirmedAttack} {
		if err := w.RecordFeedback(ctx, schemas.Feedback{EventID: ids[i], At: time.Now(), Label: l, Actor: "soc"}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	// unfamiliar_city at 70: every first login from a new city locks out.
	next := shippedRulesWith(t, "new_city && auth_method != \"mfa\"\n    weight: 30", "new_city && auth_method != \"mfa\"\n    weight: 70")
	fromFile, stderr, code := runCLI(t, "", "backtest", "--rules", next, "--events", events, "--clickhouse-dsn", dsn)
	if code != 0 {
		t.Fatalf("from the file: exit %d: %s", code, stderr)
	}
	// From three weeks before day one (2026-11-02): the labelled home-only
	// users, commuters and travellers have that much history.
	fromCH, stderr, code := runCLI(t, "", "backtest", "--rules", next, "--clickhouse-dsn", dsn,
		"--from", "2026-10-10", "--to", "2026-11-06")
	if code != 0 {
		t.Fatalf("from ClickHouse: exit %d: %s", code, stderr)
	}
	if fromCH != fromFile {
		t.Errorf("from ClickHouse:\n%s\nfrom the file:\n%s", fromCH, fromFile)
	}
	if strings.Contains(fromFile, " 0 events scored") || strings.Contains(fromFile, "\n0 decisions change") {
		t.Errorf("the test needs events and changes:\n%s", fromFile)
	}
	if !strings.Contains(fromCH, "Against the labels (3 labelled events") || strings.Contains(fromCH, backtest.NoLabels) {
		t.Errorf("the feedback table's labels were not used:\n%s", fromCH)
	}
	// A window that holds none of them.
	empty, _, code := runCLI(t, "", "backtest", "--rules", next, "--clickhouse-dsn", dsn, "--from", "2026-10-01", "--to", "2026-10-02")
	if code != 0 || !strings.Contains(empty, ": 0 events scored by both") {
		t.Errorf("an empty window: exit %d:\n%s", code, empty)
	}
}

// storeScored scores the events of an NDJSON file with the shipped rules
// and writes them to the history at dsn, as serve would; it returns their
// event_ids in order.
func storeScored(ctx context.Context, t *testing.T, dsn, events string) []string {
	t.Helper()
	cfg := defaultConfig()
	cfg.GeoIP = cfg.GeoIP.orTestDatabases()
	var scored []schemas.ScoredEvent
	var ids []string
	for _, s := range scoreFile(t, cfg, events) {
		scored = append(scored, s.ScoredEvent)
		ids = append(ids, s.Event.EventID)
	}
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	if err := w.WriteHistory(ctx, scored); err != nil {
		t.Fatal(err)
	}
	stop()
	<-done
	w.Close()
	return ids
}

func TestBacktestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no new rules", []string{"--events", "x.ndjson"}, "--rules NEW is required"},
		{"no events", []string{"--rules", "rules/default"}, "give either --events F or --from T"},
		{"both sources", []string{"--rules", "rules/default", "--events", "x", "--from", "-1h"}, "give either --events F or --from T"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", append([]string{"backtest"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
	t.Setenv("LOGINRISK_CLICKHOUSE_DSN", "")
	_, stderr, code := runCLI(t, "", "backtest", "--rules", repoFile("rules/default"), "--from", "-1h")
	if code != 1 || !strings.Contains(stderr, "--clickhouse-dsn (or LOGINRISK_CLICKHOUSE_DSN) is required") {
		t.Errorf("--from without a DSN: exit %d, %q", code, stderr)
	}
}
