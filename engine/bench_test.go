package engine_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// The benchmarks below cost each stage of the hot path per event over the
// traffic generator's population (the demo mix: ordinary users at home and
// the attack scenarios), with the generated test GeoIP databases, the
// shipped rules and warm caches. One op is one event, so ns/op is the
// per-event cost and 1e9/(ns/op) the events per second of one core:
//
//	go test -run '^$' -bench . -benchmem -cpu 1 ./engine
//
// docs/performance.md puts the numbers next to the budget of DESIGN.md.

const (
	benchUsers = 200_000 // the population of `loginrisk bench`
	benchChunk = 1 << 16 // events generated at a time
	benchGap   = time.Millisecond
	// benchWarmChunks of events are scored before timing: the caches and
	// the state then hold most of the population.
	benchWarmChunks = 3
)

var benchT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// benchTraffic is a stream of generated events, produced in chunks so a
// long benchmark never scores an event_id twice (a duplicate is answered
// from the dedupe table and would flatter the numbers).
type benchTraffic struct {
	gen    *loadgen.Generator
	at     time.Time
	events []schemas.LoginEvent
	raw    [][]byte // the events as the gateway sends them
	// refillCPU is the process CPU time spent generating events, which
	// reportCPU leaves out.
	refillCPU time.Duration
}

func newBenchTraffic(b *testing.B) *benchTraffic { return newBenchTrafficOf(b, benchUsers) }

// newBenchTrafficOf is newBenchTraffic over a population of users.
func newBenchTrafficOf(b *testing.B, users int) *benchTraffic {
	b.Helper()
	t := &benchTraffic{gen: loadgen.New(loadgen.Config{Users: users, Seed: 7}), at: benchT0}
	t.refill(b)
	return t
}

// index is the place in events and raw of a benchmark's i-th event; it
// generates the next chunk, off the clock, when i starts one.
func (t *benchTraffic) index(b *testing.B, i int) int {
	if i%benchChunk == 0 && i > 0 {
		b.StopTimer()
		t.refill(b)
		b.StartTimer()
	}
	return i % benchChunk
}

// refill replaces the chunk with the next events of the stream, event time
// advancing benchGap per event.
func (t *benchTraffic) refill(b *testing.B) {
	b.Helper()
	cpu := processCPU()
	defer func() { t.refillCPU += processCPU() - cpu }()
	if t.events == nil {
		t.events = make([]schemas.LoginEvent, benchChunk)
		t.raw = make([][]byte, benchChunk)
	}
	for i := range t.events {
		t.events[i] = t.gen.Next(t.at)
		t.at = t.at.Add(benchGap)
		raw, err := json.Marshal(&t.events[i])
		if err != nil {
			b.Fatal(err)
		}
		t.raw[i] = raw
	}
}

// benchCore is the engine as buildCore wires it, without I/O.
type benchCore struct {
	engine   *engine.Engine
	enricher *enrich.Enricher
	store    *state.Store
}

// newBenchCore builds the engine the benchmarks drive; tune adjusts its
// configuration (e.g. the console's feed).
func newBenchCore(b *testing.B, tune ...func(*engine.Config)) *benchCore {
	b.Helper()
	enricher := testkit.Enricher(b)
	cfg := engine.Config{Enricher: enricher}
	for _, f := range tune {
		f(&cfg)
	}
	eng, store := testkit.Engine(b, "", cfg)
	return &benchCore{engine: eng, enricher: enricher, store: store}
}

// warmUp scores a few chunks of the stream, so the caches hold the
// population and the state has history, as in a running service. It ends
// with a collection, so the warm-up's garbage is not charged to the first
// timed events (with -cpu 1 the collector runs on the benchmark's core).
func (c *benchCore) warmUp(b *testing.B, t *benchTraffic, chunks int) {
	b.Helper()
	for range chunks {
		for i := range t.events {
			ev := t.events[i] // the engine keeps the event it remembers
			if _, err := c.engine.Score(&ev, false); err != nil {
				b.Fatal(err)
			}
		}
		t.refill(b)
	}
	runtime.GC()
}

// BenchmarkStage costs each stage of the hot path alone, in pipeline
// order, on the same warm population. Stages after enrich take the
// features the previous stage computed, so each sees realistic input.
func BenchmarkStage(b *testing.B) {
	c := newBenchCore(b)
	t := newBenchTraffic(b)
	c.warmUp(b, t, benchWarmChunks)

	// Inputs of each stage, computed once from the current chunk.
	n := len(t.events)
	decoded := make([]schemas.LoginEvent, n)
	enriched := make([]schemas.Features, n)
	observed := make([]schemas.Features, n)
	decisions := make([]*schemas.Decision, n)
	for i := range t.events {
		if err := schemas.Decode(t.raw[i], &decoded[i]); err != nil {
			b.Fatal(err)
		}
		c.enricher.Enrich(&decoded[i], &enriched[i])
	}
	for i := range t.events {
		c.enricher.Enrich(&decoded[i], &enriched[i]) // caches warm now
		observed[i] = enriched[i]
		c.store.Peek(&decoded[i], &observed[i])
		s, err := c.engine.Score(&decoded[i], true)
		if err != nil {
			b.Fatal(err)
		}
		decisions[i] = s.Decision
	}

	b.Run("decode", func(b *testing.B) { // JSON → LoginEvent, Validate included, user agents interned
		b.ReportAllocs()
		b.SetBytes(int64(len(t.raw[0])))
		dec := schemas.NewDecoder()
		var ev schemas.LoginEvent
		for i := 0; b.Loop(); i++ {
			if err := dec.Decode(t.raw[i%n], &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		var ev schemas.LoginEvent
		for i := 0; b.Loop(); i++ {
			ev = decoded[i%n]
			if err := schemas.Validate(&ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("enrich", func(b *testing.B) { // warm GeoIP and user-agent caches
		b.ReportAllocs()
		var f schemas.Features
		for i := 0; b.Loop(); i++ {
			f = schemas.Features{}
			c.enricher.Enrich(&decoded[i%n], &f)
		}
	})
	b.Run("observe", func(b *testing.B) { // read and update the windows
		b.ReportAllocs()
		var f schemas.Features
		var ev schemas.LoginEvent
		at := t.at
		for i := 0; b.Loop(); i++ {
			ev = decoded[i%n]
			ev.OccurredAt = at // time moves on, as in a stream
			at = at.Add(benchGap)
			f = enriched[i%n]
			c.store.Observe(&ev, &f)
		}
	})
	b.Run("evaluate", func(b *testing.B) { // the compiled rules and policy
		b.ReportAllocs()
		set := c.engine.Rules()
		var res rules.Result
		for i := 0; b.Loop(); i++ {
			set.Evaluate(&observed[i%n], decoded[i%n].Addr, &res)
		}
	})
	b.Run("encode", func(b *testing.B) { // Decision → JSON
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for i := 0; b.Loop(); i++ {
			buf, _ = schemas.EncodeDecision(buf[:0], decisions[i%n])
		}
	})
}

// reportCacheMisses adds the enrichment cache misses per event (GeoIP
// lookups and user-agent parses) since before, for the n events scored.
func (c *benchCore) reportCacheMisses(b *testing.B, before [2]int64, n int) {
	m := c.enricher.Metrics()
	b.ReportMetric(float64(m.IPCacheMisses.Load()-before[0])/float64(max(n, 1)), "ipmiss/op")
	b.ReportMetric(float64(m.UACacheMisses.Load()-before[1])/float64(max(n, 1)), "uamiss/op")
}

// reportCPU adds the process CPU time per event since before ("cpu-ns/op",
// 0 where it is not measured). With -cpu 1 it is ns/op without the time
// the benchmark waited for a core that other processes held, garbage
// collection included.
func (t *benchTraffic) reportCPU(b *testing.B, before [2]time.Duration, n int) {
	used := processCPU() - before[0] - (t.refillCPU - before[1])
	b.ReportMetric(float64(used)/float64(max(n, 1)), "cpu-ns/op")
}

// cpuNow is the reportCPU starting point.
func (t *benchTraffic) cpuNow() [2]time.Duration { return [2]time.Duration{processCPU(), t.refillCPU} }

func (c *benchCore) cacheMisses() [2]int64 {
	m := c.enricher.Metrics()
	return [2]int64{m.IPCacheMisses.Load(), m.UACacheMisses.Load()}
}

// BenchmarkScore is Engine.Score per event over the population: dedupe,
// enrichment, features, rules, policy and the lock table, state updated.
// warm-heap-MB is the live heap after the warm-up (the engine's tables,
// the feature state and caches, the benchmark's own chunk of events).
func BenchmarkScore(b *testing.B) { benchScore(b, newBenchCore(b)) }

// BenchmarkScoreWithFeed is BenchmarkScore with the console's feed on
// (engine.feed_size 10 000, as serve and demo run with the HTTP API): the
// feed's cost is the difference.
func BenchmarkScoreWithFeed(b *testing.B) {
	benchScore(b, newBenchCore(b, func(c *engine.Config) { c.FeedSize = 10_000 }))
}

// benchScore scores the benchmark traffic one event at a time on c.
func benchScore(b *testing.B, c *benchCore) {
	t := newBenchTraffic(b)
	c.warmUp(b, t, benchWarmChunks)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before, cpu := c.cacheMisses(), t.cpuNow()
	b.ReportAllocs()
	n := 0
	defer func() {
		c.reportCacheMisses(b, before, n)
		t.reportCPU(b, cpu, n)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "warm-heap-MB")
	}()
	for i := 0; b.Loop(); i++ {
		n++
		j := t.index(b, i)
		ev := t.events[j] // the engine keeps the event it remembers
		if _, err := c.engine.Score(&ev, false); err != nil {
			b.Fatal(err)
		}
	}
}

// pipelinePopulations are the populations BenchmarkPipeline and
// BenchmarkFloorJSON run over: the 200 000 users of `loginrisk bench`,
// whose state does not fit the caches, and 10 000 users, whose state
// mostly does (issue 21's two targets).
var pipelinePopulations = []struct {
	name  string
	users int
}{
	{"users=200k", benchUsers},
	{"users=10k", 10_000},
}

// BenchmarkPipeline is what `loginrisk replay` does per event without
// I/O: decode the message into a reused event, score it into reused
// features (Engine.ScoreInto), encode the decision; the decoder interns
// user agents, as replay's does. 1e9/(cpu-ns/op) is
// the engine-core events per second on one core; BenchmarkFloorJSON is
// its floor. BenchmarkPrepare is the Kafka partition worker's equivalent.
func BenchmarkPipeline(b *testing.B) {
	for _, pop := range pipelinePopulations {
		b.Run(pop.name, func(b *testing.B) { benchPipeline(b, pop.users) })
	}
}

func benchPipeline(b *testing.B, users int) {
	c := newBenchCore(b)
	t := newBenchTrafficOf(b, users)
	c.warmUp(b, t, benchWarmChunks)
	buf := make([]byte, 0, 1024)
	dec := schemas.NewDecoder()
	var ev schemas.LoginEvent
	var f schemas.Features
	before, cpu := c.cacheMisses(), t.cpuNow()
	b.ReportAllocs()
	n := 0
	defer func() { c.reportCacheMisses(b, before, n); t.reportCPU(b, cpu, n) }()
	for i := 0; b.Loop(); i++ {
		n++
		j := t.index(b, i)
		if err := dec.Decode(t.raw[j], &ev); err != nil {
			b.Fatal(err)
		}
		s, err := c.engine.ScoreInto(&ev, &f, false)
		if err != nil {
			b.Fatal(err)
		}
		buf, _ = schemas.EncodeDecision(buf[:0], s.Decision)
	}
}

// BenchmarkFloorJSON is the engine core's floor (issue 21): encoding/json
// decoding each of BenchmarkPipeline's messages into a LoginEvent and
// encoding the event again, with no features, rules or state. The
// pipeline's cost over this one is what the engine adds; report it as
// the ratio Pipeline / FloorJSON of cpu-ns/op measured in one run.
func BenchmarkFloorJSON(b *testing.B) {
	for _, pop := range pipelinePopulations {
		b.Run(pop.name, func(b *testing.B) {
			t := newBenchTrafficOf(b, pop.users)
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			cpu := t.cpuNow()
			b.ReportAllocs()
			n := 0
			defer func() { t.reportCPU(b, cpu, n) }()
			for i := 0; b.Loop(); i++ {
				n++
				j := t.index(b, i)
				var ev schemas.LoginEvent
				if err := json.Unmarshal(t.raw[j], &ev); err != nil {
					b.Fatal(err)
				}
				out.Reset()
				if err := enc.Encode(&ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrepare is the Kafka worker's batch step: Engine.Prepare on
// batches of 500 raw messages (decode and score each). One op is one
// event.
func BenchmarkPrepare(b *testing.B) {
	const batch = 500
	c := newBenchCore(b)
	t := newBenchTraffic(b)
	c.warmUp(b, t, benchWarmChunks)
	msgs := make([]engine.Message, batch)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % benchChunk
		if j == 0 && i > 0 {
			b.StopTimer()
			t.refill(b)
			b.StartTimer()
		}
		msgs[i%batch] = engine.Message{Value: t.raw[j], Offset: int64(i)}
		if i%batch == batch-1 {
			if out := c.engine.Prepare(msgs); len(out.Rejected) > 0 {
				b.Fatal(out.Rejected[0].Err)
			}
		}
	}
}
