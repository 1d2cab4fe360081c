package loadgen

import (
	"bytes"
	"encoding/json"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// TestSplitProfileFindsTheCore profiles the engine as the stream drives it
// (Engine.Prepare over batches of generated events) until the profile has
// samples, and checks that splitProfile puts a share of them in the core
// and that the shares add up. The bench's small end-to-end test runs too
// briefly for the 100 Hz profiler to be sure of a sample; this one runs
// until it has them.
func TestSplitProfileFindsTheCore(t *testing.T) {
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: testkit.Enricher(t)})
	gen := New(Config{Users: 2000, Seed: 3})
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("a CPU profile is already running: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var offset int64
	for start := time.Now(); time.Since(start) < 500*time.Millisecond || time.Now().Before(deadline) && offset < 20000; {
		msgs := make([]engine.Message, 500)
		for i := range msgs {
			at = at.Add(10 * time.Millisecond)
			ev := gen.Next(at)
			v, err := json.Marshal(&ev)
			if err != nil {
				t.Fatal(err)
			}
			msgs[i] = engine.Message{Key: []byte(ev.UserID), Value: v, Offset: offset, Time: at}
			offset++
		}
		eng.Prepare(msgs)
	}
	pprof.StopCPUProfile()
	split, ok := splitProfile(buf.Bytes())
	if !ok {
		t.Fatalf("no core share in a profile of %d prepared events", offset)
	}
	if split.core <= 0 || split.core > 1 || split.historyEncode != 0 || split.harness != 0 {
		t.Errorf("split %+v: want a core share in (0, 1], no history encode and no bench producer (neither ran)", split)
	}
	if sum := split.core + split.historyEncode + split.harness + split.rest; sum < 0.999 || sum > 1.001 {
		t.Errorf("shares add up to %v, want 1", sum)
	}
	if _, ok := splitProfile([]byte("not a profile")); ok {
		t.Error("splitProfile accepted bytes that are not a profile")
	}
}

// TestSplitProfileSeparatesTheBench checks that the bench's own work in
// the serve process (the fixed-rate producer, the offset polling) is its
// own share, not part of the Kafka path's "rest": on a profile with one
// sample under each kind of frame, each share gets its sample.
func TestSplitProfileSeparatesTheBench(t *testing.T) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	stack := func(names ...string) []*profile.Location {
		var locs []*profile.Location
		for _, n := range names {
			f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: n}
			p.Function = append(p.Function, f)
			l := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: f}}}
			p.Location = append(p.Location, l)
			locs = append(locs, l)
		}
		return locs
	}
	for _, names := range [][]string{
		{"github.com/loginrisk/loginrisk/engine.(*Engine).Prepare"},
		{"github.com/loginrisk/loginrisk/engine/history.newRecord"},
		{"encoding/json.Marshal", "github.com/loginrisk/loginrisk/engine/loadgen.(*bench).produceAtRate"},
		{"github.com/segmentio/kafka-go.(*Client).Fetch"},
	} {
		p.Sample = append(p.Sample, &profile.Sample{Location: stack(names...), Value: []int64{1, 10_000_000}})
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	split, ok := splitProfile(buf.Bytes())
	if !ok || split.core != 0.25 || split.historyEncode != 0.25 || split.harness != 0.25 || split.rest != 0.25 {
		t.Errorf("split %+v (ok %v): want a quarter each to the core, the history encode, the bench producer and the rest", split, ok)
	}
}
