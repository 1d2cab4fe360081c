package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestEvalAgreesWithReplay generates the labelled scenarios, runs eval on
// them, and checks its table against one computed from replay's decisions
// of the same file: eval decides exactly as replay does.
func TestEvalAgreesWithReplay(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runCLI(t, "", "eval", "--generate", dir, "--seed", "9", "--scale", "0.04")
	if code != 0 {
		t.Fatalf("eval --generate exited %d: %s", code, stderr)
	}
	events, labelsPath := filepath.Join(dir, eval.EventsFile), filepath.Join(dir, eval.LabelsFile)
	got, stderr, code := runCLI(t, "", "eval", "--events", events, "--labels", labelsPath)
	if code != 0 {
		t.Fatalf("eval exited %d: %s", code, stderr)
	}
	// eval uses the test GeoIP databases by default; replay is told to.
	geo := existingDemoGeoIP()
	decisions, stderr, code := runCLI(t, "", "replay", "--events", events, "--quiet",
		"--geoip-city", geo.CityPath, "--geoip-asn", geo.ASNPath, "--geoip-anonymous", geo.AnonymousPath)
	if code != 0 {
		t.Fatalf("replay exited %d: %s", code, stderr)
	}
	verdicts := map[string]schemas.Verdict{}
	sc := bufio.NewScanner(strings.NewReader(decisions))
	for sc.Scan() {
		var d schemas.Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		verdicts[d.EventID] = d.Decision
	}
	labels, err := readLabelsFile(labelsPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := eval.NewTally(eval.SystemEngine, eval.SystemFail2ban)
	baseline := eval.NewFail2ban(eval.Fail2banConfig{})
	lines := offline.NewLineReader(bufio.NewReader(f), schemas.MaxEventBytes)
	n := 0
	for {
		line, err := lines.Next()
		if err != nil {
			break
		}
		var ev schemas.LoginEvent
		if err := schemas.Decode(bytes.TrimSpace(line), &ev); err != nil {
			t.Fatal(err)
		}
		want.Add(&ev, labels[ev.EventID], verdicts[ev.EventID], baseline.Decide(&ev))
		n++
	}
	var wantOut bytes.Buffer
	if err := (&eval.Report{Stats: offline.Stats{Events: n}, Tally: want}).Write(&wantOut); err != nil {
		t.Fatal(err)
	}
	if got != wantOut.String() {
		t.Errorf("eval output differs from the table built from replay's decisions:\n%s\nwant\n%s", got, wantOut.String())
	}
	for _, k := range loadgen.LabelledKinds() {
		if !strings.Contains(got, "| "+k.Name+" | engine |") {
			t.Errorf("eval output has no engine row for %s", k.Name)
		}
	}
}

func TestEvalRejectsBadLabels(t *testing.T) {
	labels := writeFile(t, "labels.ndjson", `{"event_id":"a","kind":"x","attack":false}`+"\n"+`{"event_id":"b","kind":"x","attack":"no"}`+"\n")
	events := writeTraffic(t, 10)
	_, stderr, code := runCLI(t, "", "eval", "--events", events, "--labels", labels)
	if code != 1 || !strings.Contains(stderr, labels+`: bad labels: line 2: attack: "no" is not true or false`) {
		t.Errorf("exit %d, stderr %q; want 1 and the file, line and field", code, stderr)
	}
	_, stderr, code = runCLI(t, "", "eval", "--events", events)
	if code != 2 || !strings.Contains(stderr, "--labels are required") {
		t.Errorf("without --labels: exit %d, %q", code, stderr)
	}
}
