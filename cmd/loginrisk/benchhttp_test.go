package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestBenchHTTP runs `bench --only http` at a low rate against the
// in-process broker, with the load client as a process of its own (this
// test binary acting as loginrisk), and checks the HTTP table: the floor
// and the three kinds of request, every request answered 2xx, latency
// percentiles in order, the server's CPU per request with its kernel /
// net/http / handler / runtime+GC / other split adding up to it, the
// client's own CPU, and each row's ratio to the floor. No stage of the
// pipeline runs. It asserts nothing about speed.
func TestBenchHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and the load client")
	}
	keepCollectorSettings(t)
	out, stderr := benchInProcess(t, "--only", "http", "--users", "200", "--partitions", "2", "--http-rate", "1000", "--http-duration", "1s")
	// The bench's process is the server, with the collector set as
	// serve sets it (the runtime section), unless GOGC says otherwise.
	if _, set := os.LookupEnv("GOGC"); !set && !strings.Contains(out, fmt.Sprintf("GOGC=%d GOMEMLIMIT=", defaultGCPercent)) {
		t.Errorf("the footer does not show the runtime section's GOGC %d:\n%s", defaultGCPercent, out)
	}
	if strings.Contains(out, "\nstage ") || strings.Contains(out, "CPU per event") {
		t.Errorf("--only http ran pipeline stages:\n%s", out)
	}
	_, table, ok := strings.Cut(out, "\nrun ")
	if !ok {
		t.Fatalf("no HTTP table:\n%s\nstderr:\n%s", out, stderr)
	}
	table, _, _ = strings.Cut(table, "\nhttp-floor: ")
	rows := map[string][]string{}
	for _, line := range strings.Split(table, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	micros := func(row []string, col int) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(row[col], "µs"), 64)
		if err != nil || !strings.HasSuffix(row[col], "µs") {
			t.Errorf("%s: column %d is %q, want µs", row[0], col, row[col])
		}
		return v
	}
	millis := func(row []string, col int) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(row[col], "ms"), 64)
		if err != nil || !strings.HasSuffix(row[col], "ms") {
			t.Errorf("%s: column %d is %q, want ms", row[0], col, row[col])
		}
		return v
	}
	// run requests answered/s errors p50 p99 p99.9 server kernel net/http handler runtime other vs-floor client
	split := 0 // rows with a split of their user time
	for _, key := range []string{"http-floor", "http-score", "http-user-status", "http-ip-status"} {
		row := rows[key]
		if len(row) < 15 {
			t.Errorf("row %s: %q, want 15 columns\n%s", key, row, out)
			continue
		}
		if row[1] != "1000" || row[3] != "0" {
			t.Errorf("%s: %s requests, %s errors; want 1000 and none", key, row[1], row[3])
		}
		if p50, p99, p999 := millis(row, 4), millis(row, 5), millis(row, 6); !(0 < p50 && p50 <= p99 && p99 <= p999) {
			t.Errorf("%s: p50 %v, p99 %v, p99.9 %v; want positive and in order", key, p50, p99, p999)
		}
		server := micros(row, 7)
		if slices.Equal(row[9:13], []string{"-", "-", "-", "-"}) {
			// The CPU profile (100 samples a second) took no sample of
			// this short run's user time: no split, the kernel's aside.
			t.Logf("%s: no profile sample, no split", key)
			if server <= 0 || micros(row, 8) > server {
				t.Errorf("%s: server CPU %v µs, kernel %s", key, server, row[8])
			}
			continue
		}
		split++
		sum := 0.0
		for col := 8; col <= 12; col++ {
			sum += micros(row, col)
		}
		if server <= 0 || sum < server-0.6 || sum > server+0.6 { // each cell rounded to 0.1 µs
			t.Errorf("%s: server CPU %v µs, its split adds up to %v µs", key, server, sum)
		}
		if !strings.HasSuffix(row[13], "x") || micros(row, 14) <= 0 {
			t.Errorf("%s: vs floor %q, client CPU %q; want a ratio and a positive time", key, row[13], row[14])
		}
	}
	if r := rows["http-floor"]; len(r) > 13 && r[13] != "1.00x" {
		t.Errorf("the floor's ratio to itself is %s", r[13])
	}
	if split == 0 {
		t.Errorf("no row has a split of its CPU: the profile saw nothing\n%s", out)
	} else if handler := func(key string) float64 {
		if r := rows[key]; len(r) > 10 && r[10] != "-" {
			return micros(r, 10)
		}
		return 0
	}; handler("http-user-status") <= 0 && handler("http-score") <= 0 {
		t.Errorf("no handler CPU in the status or score rows (the profile did not see our handler)")
	}
}

// TestBenchOnlyAndSkip: --only and --skip exclude each other, and --only
// knows the stages.
func TestBenchOnlyAndSkip(t *testing.T) {
	for _, args := range [][]string{{"--only", "http", "--skip", "core"}, {"--only", "nope"}} {
		err := cmdBench(context.Background(), args, nil, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("bench %v: no error", args)
		}
	}
}

// Without --only the http stage does not run: the pipeline's stages do
// not start an API or a load client.
func TestBenchHTTPOnlyWhenNamed(t *testing.T) {
	stdout, stderr := benchInProcess(t, "--events", "500", "--users", "100", "--skip", "produce,latency")
	if strings.Contains(stdout, "HTTP at") || strings.Contains(stderr, "http-floor") {
		t.Errorf("the http stage ran without --only http:\n%s", stdout)
	}
}
