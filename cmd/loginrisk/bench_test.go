package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchSmall runs the whole harness on a tiny population against the
// in-process broker and checks that the table has every stage with a
// positive rate (and latencies for the fixed-rate stage). It asserts
// nothing about speed.
func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the serve pipeline")
	}
	stdout, _ := benchInProcess(t, "--events", "3000", "--users", "500", "--partitions", "3", "--rate", "500", "--latency-duration", "1s")
	rows := benchRows(t, stdout)
	for _, stage := range []string{"produce", "ingest", "e2e-drain", "e2e-rate", "core-1cpu", "core"} {
		row, ok := rows[stage]
		if !ok {
			t.Errorf("stage %s missing from the table:\n%s", stage, stdout)
			continue
		}
		if rate, err := strconv.ParseFloat(row[3], 64); err != nil || rate <= 0 {
			t.Errorf("stage %s: events/s %q, want a positive number", stage, row[3])
		}
		if stage == "produce" || stage == "ingest" || stage == "e2e-drain" || stage == "core-1cpu" {
			if n, _ := strconv.Atoi(row[1]); n != 3000 {
				t.Errorf("stage %s: %s events, want 3000", stage, row[1])
			}
		}
	}
	if row := rows["e2e-rate"]; row != nil {
		for _, col := range []int{4, 5} {
			if !strings.HasSuffix(row[col], "ms") {
				t.Errorf("e2e-rate: latency column %d is %q, want a duration in ms", col, row[col])
			}
		}
	}
	// The CPU table has this process's CPU per event for every stage, and
	// the serve rows split it into core / history encode / bench producer / the rest.
	costs := costRows(t, stdout)
	for _, stage := range []string{"produce", "ingest", "e2e-drain", "e2e-rate", "core-1cpu", "core"} {
		row := costs[stage]
		if len(row) < 3 || row[1] != "µs" {
			t.Errorf("stage %s: CPU row %q, want the loginrisk column in µs", stage, row)
			continue
		}
		if v, err := strconv.ParseFloat(row[0], 64); err != nil || v <= 0 {
			t.Errorf("stage %s: loginrisk CPU per event %q, want a positive number", stage, row[0])
		}
	}
	// The serve rows end with the core / history encode / bench producer / rest split, or
	// "-" when the 100 Hz profiler caught no sample of the core in so
	// short a run (loadgen.TestSplitProfileFindsTheCore checks the split
	// on a profile that has them).
	for _, stage := range []string{"e2e-drain", "e2e-rate"} {
		row := costs[stage] // loginrisk, total (the same: nothing else is measured here), split
		if len(row) < 5 {
			t.Errorf("%s: CPU row %q has no split column", stage, row)
			continue
		}
		split := strings.Join(row[4:], " ")
		if split != "-" && !splitPattern.MatchString(split) {
			t.Errorf("%s: split %q, want - or core / history encode / bench producer / rest shares", stage, split)
		}
	}
	// Run from the repository, the bench enriches with the generated test
	// databases and its footer names them, so a figure says what it
	// measured (a bench that silently ran without GeoIP went unnoticed).
	for _, want := range []string{"machine: ", "command: loginrisk bench --events 3000",
		"geoip: city=", "City-Test.mmdb", "ASN-Test.mmdb", "Anonymous-IP-Test.mmdb"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// benchInProcess runs bench with args against the in-process broker and
// no ClickHouse, and returns its standard output and error; a bench
// error fails the test with the standard error.
func benchInProcess(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	t.Setenv("LOGINRISK_KAFKA_BROKERS", "")
	t.Setenv("LOGINRISK_CLICKHOUSE_DSN", "")
	var out, errOut bytes.Buffer
	if err := cmdBench(context.Background(), args, nil, &out, &errOut); err != nil {
		t.Fatalf("bench %v: %v\nstderr:\n%s", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// splitPattern is the split column of a serve row: four shares.
var splitPattern = regexp.MustCompile(`^[\d.]+ µs / [\d.]+ µs / [\d.]+ µs / [\d.]+ µs$`)

// TestBenchSkip checks that --skip leaves stages out, that --only runs
// the stages named (and produce, when they read what it publishes), and
// that an unknown stage is an error.
func TestBenchSkip(t *testing.T) {
	t.Setenv("LOGINRISK_KAFKA_BROKERS", "")
	t.Setenv("LOGINRISK_CLICKHOUSE_DSN", "")
	tests := []struct {
		name    string
		skip    string
		only    string
		want    []string
		wantErr string
	}{
		{name: "core only", skip: "produce,latency", want: []string{"core-1cpu", "core"}},
		{name: "ingest only", only: "ingest", want: []string{"produce", "ingest"}},
		{name: "unknown stage", skip: "nope", wantErr: `unknown stage "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"--events", "500", "--users", "100", "--skip", tt.skip}
			if tt.only != "" {
				args = []string{"--events", "500", "--users", "100", "--only", tt.only}
			}
			err := cmdBench(context.Background(), args, nil, &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
			}
			rows := benchRows(t, stdout.String())
			if len(rows) != len(tt.want) {
				t.Errorf("stages %v, want %v", keys(rows), tt.want)
			}
			for _, stage := range tt.want {
				if rows[stage] == nil {
					t.Errorf("stage %s missing:\n%s", stage, stdout.String())
				}
			}
		})
	}
}

// benchRows parses the table: stage name → its fields (stage, events,
// seconds, events/s, p50, p99, vs ingest, CPU/event, what...).
func benchRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "stage":
			inTable = true
		case len(f) == 0:
			if inTable && len(rows) > 0 {
				return rows
			}
		case inTable && len(f) >= 7:
			rows[f[0]] = f
		}
	}
	if len(rows) == 0 {
		t.Fatalf("no table in the output:\n%s", out)
	}
	return rows
}

// costRows parses the CPU table: stage name → the fields after it.
func costRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nCPU per event")
	if !ok {
		t.Fatalf("no CPU table in the output:\n%s", out)
	}
	table, _, _ = strings.Cut(table, "\n\n")
	rows := map[string][]string{}
	for _, line := range strings.Split(table, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 {
			rows[f[0]] = f[1:]
		}
	}
	return rows
}

// TestBenchInstances runs the end-to-end stages with serve as two
// processes (this test binary, as TestMain lets it act as loginrisk) on
// the in-process broker, and checks that the table says so and carries
// their CPU time per event. It asserts nothing about speed.
func TestBenchInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two serve processes")
	}
	stdout, _ := benchInProcess(t, "--instances", "2", "--events", "10000", "--users", "1000", "--partitions", "2",
		"--skip", "ingest,core", "--rate", "300", "--latency-duration", "1s")
	rows := benchRows(t, stdout)
	for _, stage := range []string{"e2e-drain", "e2e-rate"} {
		row, ok := rows[stage]
		if !ok {
			t.Fatalf("stage %s missing from the table:\n%s", stage, stdout)
		}
		cpu, err := strconv.ParseFloat(strings.TrimSuffix(row[7], "µs"), 64)
		if err != nil || cpu <= 0 || !strings.HasSuffix(row[7], "µs") {
			t.Errorf("stage %s: CPU/event %q, want a positive time in µs", stage, row[7])
		}
		if what := strings.Join(row[8:], " "); !strings.Contains(what, "serve as 2 processes in one group") {
			t.Errorf("stage %s: %q does not say serve ran as two processes", stage, what)
		}
	}
	if n, _ := strconv.Atoi(rows["e2e-drain"][1]); n != 10000 {
		t.Errorf("e2e-drain: %s events, want 10000", rows["e2e-drain"][1])
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
