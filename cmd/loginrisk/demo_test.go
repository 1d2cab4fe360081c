package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// make demo writes history to a ClickHouse on this machine when there is
// one, and says plainly when there is none.
func TestFindDemoClickHouse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listening := ln.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()
	defer ln.Close()

	t.Run("found", func(t *testing.T) {
		t.Setenv("CLICKHOUSE_DSN", "clickhouse://"+listening+"/default")
		var out bytes.Buffer
		got := findDemoClickHouse(context.Background(), &out)
		if want := "clickhouse://" + listening + "/" + demoClickHouseDatabase; got != want {
			t.Errorf("dsn = %q, want %q", got, want)
		}
		if !strings.Contains(out.String(), "ClickHouse found on "+listening) {
			t.Errorf("message = %q", out.String())
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv("CLICKHOUSE_DSN", "clickhouse://"+refused+"/default")
		var out bytes.Buffer
		if got := findDemoClickHouse(context.Background(), &out); got != "" {
			t.Errorf("dsn = %q with nothing listening", got)
		}
		if msg := out.String(); !strings.Contains(msg, "no ClickHouse on "+refused) || !strings.Contains(msg, "history is off") {
			t.Errorf("message = %q, want it to say plainly there is no ClickHouse", msg)
		}
	})
}

// TestDemoKeepsItsPromise runs `loginrisk demo` as a newcomer would (the
// in-process broker, the embedded rules, the repository's test GeoIP
// databases, the HTTP API) for a few seconds and checks that every attack
// the demo announces shows up in its decisions through the rules meant to
// catch it. A demo that silently loses a feature (GeoIP once) fails here.
func TestDemoKeepsItsPromise(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for several seconds")
	}
	for _, env := range []string{"LOGINRISK_KAFKA_BROKERS", "LOGINRISK_CLICKHOUSE_DSN",
		"LOGINRISK_GEOIP_CITY", "LOGINRISK_GEOIP_ASN", "LOGINRISK_GEOIP_ANONYMOUS", "LOGINRISK_RULES_DIR"} {
		t.Setenv(env, "")
	}
	start := time.Now()
	stdout, stderr, code := runCLI(t, "", "demo", "--duration", "12s", "--no-clickhouse", "--http", "127.0.0.1:0")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("demo exit %d\nstderr:\n%s", code, stderr)
	}
	// Into a buffer (a pipe, a CI log) the progress is a plain line every
	// few seconds, not a redraw twice a second.
	if strings.ContainsAny(stderr, "\r\033") {
		t.Errorf("the demo wrote terminal control characters into a non-terminal:\n%q", stderr)
	}
	progress := strings.Count(stderr, "\nproduced ")
	if most := int(took/(5*time.Second)) + 1; progress < 1 || progress > most {
		t.Errorf("%d progress lines in %s, want 1 to %d (one every 5 s):\n%s", progress, took.Round(time.Second), most, stderr)
	}
	// A progress line's rate counts from the start of the traffic: never
	// "(0/s)" once decisions have come back.
	for _, m := range regexp.MustCompile(`decided (\d+) \((\d+)/s\)`).FindAllStringSubmatch(stderr, -1) {
		if m[1] != "0" && m[2] == "0" {
			t.Errorf("progress line says %s decided at 0/s:\n%s", m[1], stderr)
		}
	}
	if !regexp.MustCompile(`dead-lettered \(\S+\)\s+\d+\s+the malformed events the demo sends on purpose`).MatchString(stdout) {
		t.Errorf("the dead-letter row does not say where its events come from:\n%s", stdout)
	}
	if !strings.Contains(stderr, "demo: GeoIP city=") {
		t.Errorf("the demo does not say it uses the test GeoIP databases:\n%s", stderr)
	}
	fired := demoRulesFired(t, stdout)
	caught := loadgen.New(loadgen.Config{Users: 1, Seed: 1}).CaughtBy()
	for _, attack := range loadgen.New(loadgen.Config{Users: 1, Seed: 1}).Scenarios() {
		if !strings.Contains(stderr, attack) {
			t.Errorf("attack %s is not announced:\n%s", attack, stderr)
		}
		for _, rule := range caught[attack] {
			if fired[rule] == 0 {
				t.Errorf("attack %s: rule %s never fired in the demo's decisions", attack, rule)
			}
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", stdout)
	}
}

// demoRulesFired reads the demo's "Rules that fired" table: rule → count.
func demoRulesFired(t *testing.T, out string) map[string]int {
	t.Helper()
	_, table, ok := strings.Cut(out, "Rules that fired")
	if !ok {
		t.Fatalf("no 'Rules that fired' table in:\n%s", out)
	}
	fired := map[string]int{}
	lines := strings.Split(table, "\n")
	for _, line := range lines[2:] { // the title's end and the header
		f := strings.Fields(line)
		if len(f) < 2 {
			break
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("rules table row %q: %v", line, err)
		}
		fired[f[0]] = n
	}
	return fired
}
