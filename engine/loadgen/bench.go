package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/internal/proccpu"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// Stages of the bench harness, as named by `loginrisk bench --skip`.
const (
	StageProduce = "produce"
	StageIngest  = "ingest"
	StageDrain   = "e2e"
	StageLatency = "latency"
	StageCore    = "core"
)

// BenchStages returns the stages of the bench harness in the order they run.
func BenchStages() []string {
	return []string{StageProduce, StageIngest, StageDrain, StageLatency, StageCore, StageHTTP}
}

// BenchConfig is one run of the bench harness (RunBench). The caller owns
// the daemon: it makes the topics and the database unique to the run,
// creates the topics, and passes the serve pipeline and the engine core as
// functions.
type BenchConfig struct {
	Events, Users, Partitions int
	Seed                      uint64
	EventRate                 int             // event-time rate of the generated events
	Rate                      int             // events/s of the latency stage; 0 = half the drain rate
	LatencyFor                time.Duration   // how long the latency stage produces
	Skip                      map[string]bool // stages left out
	ProfileDir                string          // a CPU profile per stage goes there, when set
	FetchBytes                int             // MaxBytes of the bench's own partition readers

	// Kafka, topics and group of the run; Kafka is nil when no stage
	// needs it.
	Kafka                       *kafkastream.Clients
	GroupID                     string
	EventsTopic, DecisionsTopic string

	// What the header and the footer say about Kafka, history ("" = off)
	// and GeoIP, and the command that ran the bench.
	Broker, History, GeoIP, Command string

	// Where the broker and ClickHouse listen, or their pids (0: look them
	// up by the port of a loopback address), for their CPU per event.
	BrokerAddrs, ClickHouseAddrs []string
	BrokerPID, ClickHousePID     int

	// Serve runs the serve pipeline on the run's topics until ctx ends.
	Serve func(ctx context.Context) error
	// ServeCPU returns the CPU time (user and system) the serve pipeline
	// has used so far, over all its processes; nil: not measured. The
	// end-to-end stages report it per decided event.
	ServeCPU func() (time.Duration, error)
	// ServeWhere says where Serve runs, for the table ("" is
	// "in-process").
	ServeWhere string
	// Replay replays NDJSON through a fresh engine core with no I/O.
	Replay func(ctx context.Context, ndjson io.Reader) (ReplayStats, error)

	// HTTPRate and HTTPFor are the requests/s and the length of each
	// measured run of the HTTP stage (httpbench.go).
	HTTPRate int
	HTTPFor  time.Duration
	// ServeHTTP starts serve with its HTTP API on a loopback port, in
	// this process, and returns it once it answers for every user; stop
	// shuts it down.
	ServeHTTP func(ctx context.Context) (api HTTPTarget, stop func(), err error)
	// LoadHTTP runs the load client, in a process of its own so that this
	// process's CPU is the server's; nil: RunHTTPLoad in this process.
	LoadHTTP func(ctx context.Context, l HTTPLoad) (HTTPResult, error)

	Log      *slog.Logger
	Progress io.Writer // progress bars and stage lines (stderr)
}

// ReplayStats is what BenchConfig.Replay reports.
type ReplayStats struct {
	Events, Invalid int
	FirstProblem    string // the first invalid line's reason
}

// bench is one run of the harness.
type bench struct {
	cfg BenchConfig

	data    *benchEvents
	results []stageResult
	ingest  float64 // events/s of the ingest limit
	drain   float64 // events/s of the drain stage
	// produceLag is, per event of the last produceAtRate, the time from
	// when it was due to when the broker acknowledged it: the part of the
	// latency that is the producer's and the broker's.
	produceLag []time.Duration

	procs []proccpu.Process    // the broker and ClickHouse, when found
	costs map[string]stageCost // per phase
	http  []httpResult         // the HTTP stage's rows
}

// stageResult is one row of the table.
type stageResult struct {
	key      string // stable name (tests and scripts read it)
	events   int64
	seconds  float64
	p50, p99 time.Duration // zero: not measured
	vsIngest float64       // events/s over the ingest limit; zero: not shown
	cpu      time.Duration // CPU time of serve per event; zero: not measured
	what     string
}

// RunBench generates traffic, publishes it to the events topic, then
// measures the ingest limit of a bare consumer group, the serve pipeline
// end to end (draining the topic, then at a fixed rate for latency), and
// the engine core alone (replay, no I/O), and prints one table to stdout
// (docs/performance.md).
func RunBench(ctx context.Context, cfg BenchConfig, stdout io.Writer) error {
	b := &bench{cfg: cfg, costs: map[string]stageCost{}}
	b.procs = costProcesses(cfg, cfg.Log.Warn)
	fmt.Fprintf(cfg.Progress, "bench: %d events, %d users, %d partitions; %s; history %s; geoip %s\n",
		cfg.Events, cfg.Users, cfg.Partitions, orDash(cfg.Broker, "no Kafka"), historyWhat(cfg.History), cfg.GeoIP)

	gen := New(Config{Users: cfg.Users, Seed: cfg.Seed})
	if !cfg.Skip[StageProduce] || !cfg.Skip[StageCore] { // the stages that read them
		b.data = generateEvents(gen, cfg.Events, cfg.EventRate, time.Now(), cfg.Progress)
	}

	steps := []struct {
		stage string
		fn    func(context.Context) error
	}{
		{StageProduce, b.produce},
		{StageIngest, b.ingestLimit},
		{StageDrain, func(ctx context.Context) error { return b.endToEnd(ctx, gen) }},
		{StageCore, b.core},
		{StageHTTP, b.httpStage},
	}
	for _, s := range steps {
		if s.stage == StageDrain && cfg.Skip[StageDrain] && cfg.Skip[StageLatency] || s.stage != StageDrain && cfg.Skip[s.stage] {
			continue
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.stage, err)
		}
	}
	b.print(stdout)
	return nil
}

// orDash is s, or none when s is empty.
func orDash(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func historyWhat(history string) string {
	if history == "" {
		return "off"
	}
	return "to " + history
}

func (r stageResult) rate() float64 {
	if r.seconds <= 0 {
		return 0
	}
	return float64(r.events) / r.seconds
}

// DeleteTopics removes a bench run's topics from a real broker; a failure
// is logged, as the run's figures stand.
func DeleteTopics(k *kafkastream.Clients, log *slog.Logger, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.Client(15*time.Second).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics}); err != nil {
		log.Warn("deleting the bench topics", "err", err)
	}
}

// DropDatabase drops a bench run's ClickHouse database db on the server
// of dsn; only ever call it with a database the run made. A failure is
// logged, as the run's figures stand.
func DropDatabase(dsn, db string, log *slog.Logger) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err == nil {
		opts.Auth.Database = "default"
		var conn clickhouse.Conn
		if conn, err = clickhouse.Open(opts); err == nil {
			// A server busy merging the run's inserts can take a while.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			err = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`")
			cancel()
			conn.Close()
		}
	}
	if err != nil {
		log.Warn("dropping the bench database", "database", db, "err", err)
	}
}

// benchEvents is the generated traffic: NDJSON in one buffer, and each
// event's line and key (user_id) as slices of it.
type benchEvents struct {
	ndjson []byte
	lines  []benchLine
}

type benchLine struct{ value, key []byte }

// generateEvents makes n events of the demo mix whose event times are
// spread at rate per second and end at end.
func generateEvents(gen *Generator, n, rate int, end time.Time, stderr io.Writer) *benchEvents {
	bar := NewProgress(stderr, "generate", int64(n))
	step := time.Second / time.Duration(rate)
	at := end.Add(-time.Duration(n) * step)
	d := &benchEvents{ndjson: make([]byte, 0, n*400), lines: make([]benchLine, n)}
	type span struct{ from, to, keyFrom, keyTo int }
	spans := make([]span, n)
	for i := range n {
		ev := gen.Next(at)
		at = at.Add(step)
		from := len(d.ndjson)
		d.ndjson = EncodeEvent(d.ndjson, &ev)
		// The key is the user_id as encoded, found in the line.
		k := bytes.Index(d.ndjson[from:], []byte(`"user_id":"`)) + from + len(`"user_id":"`)
		spans[i] = span{from, len(d.ndjson) - 1, k, k + len(ev.UserID)}
		if i%4096 == 0 {
			bar.Update(int64(i), int64(i))
		}
	}
	for i, s := range spans { // the buffer no longer moves
		d.lines[i] = benchLine{value: d.ndjson[s.from:s.to], key: d.ndjson[s.keyFrom:s.keyTo]}
	}
	bar.Done(fmt.Sprintf("generated %d events (%d MiB of NDJSON)", n, len(d.ndjson)>>20))
	return d
}

// profile measures the CPU each process uses during stage, and where
// this process's went (from a CPU profile, written to --cpuprofile's
// directory when set).
func (b *bench) profile(stage string) (stop func()) {
	stopCost := b.startCost(stage)
	stopProfile := b.cpuProfile(stage)
	return func() {
		data := stopProfile()
		stopCost(data)
		b.writeProfile(stage, data) // after the cost, which it would add to
	}
}

// cpuProfile starts this process's CPU profile of a stage or an HTTP run;
// stop ends it and returns it, nil when it could not start (said in the
// log).
func (b *bench) cpuProfile(name string) (stop func() []byte) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		b.cfg.Log.Warn("cpu profile", "stage", name, "err", err)
		return func() []byte { return nil }
	}
	return func() []byte {
		pprof.StopCPUProfile()
		return buf.Bytes()
	}
}

// writeProfile writes a stage's or an HTTP run's CPU profile to
// --cpuprofile's directory, when set.
func (b *bench) writeProfile(name string, data []byte) {
	if b.cfg.ProfileDir == "" {
		return
	}
	err := os.MkdirAll(b.cfg.ProfileDir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(b.cfg.ProfileDir, name+".pprof"), data, 0o644)
	}
	if err != nil {
		b.cfg.Log.Warn("cpu profile", "stage", name, "err", err)
	}
}

// produce publishes the generated events to the events topic keyed by
// user_id: one writer, one goroutine per partition sending full batches in
// order. Each message's timestamp is set when its batch is sent.
func (b *bench) produce(ctx context.Context) error {
	w := NewEventWriter(b.cfg.Kafka, b.cfg.EventsTopic)
	defer w.Close()
	parts := make([]int, b.cfg.Partitions)
	for i := range parts {
		parts[i] = i
	}
	byPartition := make([][]int32, len(parts))
	var balancer kafka.Murmur2Balancer // the writer's: same key, same partition
	for i, l := range b.data.lines {
		p := balancer.Balance(kafka.Message{Key: l.key}, parts...)
		byPartition[p] = append(byPartition[p], int32(i))
	}
	var sent atomic.Int64
	stopBar := WatchProgress(b.cfg.Progress, "produce", int64(len(b.data.lines)), sent.Load)
	defer b.profile(StageProduce)()
	start := time.Now()
	errs := make(chan error, len(parts))
	var wg sync.WaitGroup
	for _, idx := range byPartition {
		wg.Go(func() {
			msgs := make([]kafka.Message, 0, w.BatchSize)
			for len(idx) > 0 {
				n := min(len(idx), w.BatchSize)
				msgs = msgs[:0]
				now := time.Now()
				for _, i := range idx[:n] {
					l := b.data.lines[i]
					msgs = append(msgs, kafka.Message{Key: l.key, Value: l.value, Time: now})
				}
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					errs <- fmt.Errorf("publishing to %s: %w", w.Topic, err)
					return
				}
				sent.Add(int64(n))
				idx = idx[n:]
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	stopBar(fmt.Sprintf("produced %d events to %s", sent.Load(), b.cfg.EventsTopic))
	if err := <-errs; err != nil {
		return err
	}
	b.results = append(b.results, stageResult{key: StageProduce, events: sent.Load(), seconds: took.Seconds(),
		what: fmt.Sprintf("publish to the events topic (kafka-go writer, %d partitions, acks=all)", len(parts))})
	return nil
}

// endOffsets returns the next offset of every partition of topic.
func (b *bench) endOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, b.cfg.Partitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	resp, err := b.cfg.Kafka.Client(15*time.Second).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing the offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, len(reqs))
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("listing the offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

func sumOffsets(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// ingestLimit reads the whole events topic with a bare kafka-go consumer
// group (a ConsumerGroup and one partition reader per assigned partition,
// as engine/kafkastream does) that does nothing with the messages: the
// most the engine could consume. The time runs from the first message
// fetched to the last, so the group join is left out. A rebalance ends a
// generation; the next one resumes where each partition got to, as the
// engine resumes from its commits.
func (b *bench) ingestLimit(ctx context.Context) error {
	topic := b.cfg.EventsTopic
	ends, err := b.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	total := sumOffsets(ends)
	group, err := b.cfg.Kafka.ConsumerGroup(b.cfg.GroupID+"-ingest", []string{topic}, false, 0, nil)
	if err != nil {
		return err
	}
	defer group.Close()
	next := make([]atomic.Int64, b.cfg.Partitions) // next offset to read, per partition
	var read atomic.Int64
	allRead := make(chan struct{}) // closed when read reaches total
	var first, last atomic.Int64   // unix nanos
	stopBar := WatchProgress(b.cfg.Progress, "ingest limit", total, read.Load)
	defer b.profile(StageIngest)()
	start := time.Now()
	generations := 0
	for read.Load() < total {
		jctx, cancel := context.WithTimeout(ctx, time.Minute)
		gen, err := group.Next(jctx)
		// A broker that has just started has no offsets topic yet and
		// answers the first group of its life with a retriable error
		// (Group Coordinator Not Available): wait and join again.
		for kerr := kafka.Error(0); errors.As(err, &kerr) && kerr.Temporary() && jctx.Err() == nil; {
			time.Sleep(250 * time.Millisecond)
			gen, err = group.Next(jctx)
		}
		cancel()
		if err != nil {
			stopBar("")
			return fmt.Errorf("joining consumer group: %w", err)
		}
		generations++
		var wg sync.WaitGroup
		for _, a := range gen.Assignments[topic] {
			end := ends[a.ID]
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				// kafka-go ends the generation as soon as one of its
				// functions returns: a partition read to its end waits for
				// the others.
				defer func() {
					select {
					case <-allRead:
					case <-gctx.Done():
					}
				}()
				if next[a.ID].Load() >= end {
					return
				}
				r := b.cfg.Kafka.PartitionReader(topic, a.ID, b.cfg.FetchBytes, nil)
				defer r.Close()
				if err := r.SetOffset(next[a.ID].Load()); err != nil {
					b.cfg.Log.Warn("ingest: setting offset", "partition", a.ID, "err", err)
					return
				}
				for next[a.ID].Load() < end {
					m, err := r.FetchMessage(gctx)
					if err != nil {
						if gctx.Err() == nil {
							b.cfg.Log.Warn("ingest: fetching", "partition", a.ID, "err", err)
						}
						return // the generation ended: the next one goes on
					}
					now := time.Now().UnixNano()
					first.CompareAndSwap(0, now)
					storeMax(&last, now)
					next[a.ID].Store(m.Offset + 1)
					if read.Add(1) == total {
						close(allRead)
					}
				}
				_ = gen.CommitOffsets(map[string]map[int]int64{topic: {a.ID: end}})
			})
		}
		waitCtx(ctx, &wg)
		if err := ctx.Err(); err != nil {
			stopBar("")
			return err
		}
	}
	stopBar(fmt.Sprintf("ingest limit: read %d events (%d group generations, %s)", read.Load(), generations, time.Since(start).Round(time.Millisecond)))
	secs := max(time.Duration(last.Load()-first.Load()), time.Microsecond).Seconds()
	r := stageResult{key: StageIngest, events: read.Load(), seconds: secs,
		what: "ingest limit: bare consumer group reading the events topic, nothing else"}
	b.ingest = r.rate()
	b.results = append(b.results, r)
	return nil
}

// waitCtx waits for wg or ctx.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// endToEnd runs the serve pipeline in this process (serve itself: the
// Kafka stream, the engine, the history writer when a DSN is given) on the
// events topic. First it drains the pre-filled topic (throughput); then it
// produces at a fixed rate below capacity for --latency-duration and
// measures event-to-decision latency: from each event message's timestamp
// (when it was due to be sent) to its decision message's timestamp (when
// it was published). Decisions are read back between the phases, not
// during them, so the reading does not compete with the engine for the
// CPU.
func (b *bench) endToEnd(ctx context.Context, gen *Generator) error {
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	served := make(chan error, 1)
	go func() { served <- b.cfg.Serve(serveCtx) }()
	defer func() {
		stopServe()
		<-served
	}()
	dc := &decisionCollector{b: b, next: make([]int64, b.cfg.Partitions), seen: map[string]struct{}{}}

	drained := !b.cfg.Skip[StageDrain]
	if drained {
		want := len(b.data.lines)
		// The costs are measured from the first decision (serve's start-up,
		// migrations and warm-up left out) until every offset is committed
		// (the history of the last events inserted).
		var stopProfile func()
		var cpu func() time.Duration
		err := b.awaitDecisions(ctx, served, "engine e2e (drain)", int64(want), func() {
			stopProfile = b.profile(StageDrain)
			cpu = b.cpuMeter()
		})
		if err == nil {
			err = b.awaitCommitted(ctx, served)
		}
		var cpuUsed time.Duration
		if cpu != nil {
			cpuUsed = cpu()
		}
		if stopProfile != nil {
			stopProfile()
		}
		if err == nil {
			err = dc.collectUntil(ctx, served, func() bool { return dc.drainDistinct >= want })
		}
		if err != nil {
			return err
		}
		// Decisions are published per batch: the first batch's own time is
		// not in the span; Kafka timestamps are in milliseconds.
		r := stageResult{key: "e2e-drain", events: int64(dc.drainDistinct), seconds: max(dc.last.Sub(dc.first), time.Millisecond).Seconds(),
			cpu:  perEvent(cpuUsed, dc.drainDistinct),
			what: "serve " + b.serveWhere() + ": drain the pre-filled topic, decisions published" + b.withHistory() + dc.duplicatesNote()}
		b.drain = r.rate()
		if b.ingest > 0 {
			r.vsIngest = b.drain / b.ingest
		}
		b.results = append(b.results, r)
	}
	if b.cfg.Skip[StageLatency] {
		return nil
	}

	rate := b.cfg.Rate
	if rate == 0 {
		rate = 20_000
		if b.drain > 0 {
			rate = max(int(b.drain/2), 1)
		}
	}
	if !drained { // let the group join and the caches warm before timing
		n, err := b.produceAtRate(ctx, gen, 1000, time.Second, nil)
		if err == nil {
			err = b.awaitDecisions(ctx, served, "warm-up", dc.total+n, nil)
		}
		if err == nil {
			err = dc.collectUntil(ctx, served, func() bool { return int64(dc.drainDistinct) >= n })
		}
		if err != nil {
			return err
		}
	}
	dc.due = make(map[string]time.Time, int(float64(rate)*b.cfg.LatencyFor.Seconds())+1)
	stopProfile := b.profile(StageLatency)
	cpu := b.cpuMeter()
	n, err := b.produceAtRate(ctx, gen, rate, b.cfg.LatencyFor, dc.due)
	if err == nil {
		err = b.awaitDecisions(ctx, served, "engine e2e (latency)", dc.total+n, nil)
	}
	if err == nil {
		err = b.awaitCommitted(ctx, served)
	}
	cpuUsed := cpu()
	stopProfile()
	if err == nil {
		err = dc.collectUntil(ctx, served, func() bool { return len(dc.latencies) >= len(dc.due) })
	}
	if err != nil {
		return err
	}
	slices.Sort(dc.latencies)
	slices.Sort(b.produceLag)
	b.results = append(b.results, stageResult{key: "e2e-rate", events: int64(len(dc.due)), seconds: b.cfg.LatencyFor.Seconds(),
		p50: percentile(dc.latencies, 0.50), p99: percentile(dc.latencies, 0.99), cpu: perEvent(cpuUsed, len(dc.due)),
		what: fmt.Sprintf("serve %s at a fixed %d events/s: latency event due → decision published%s (of which producer until acked: p50 %s, p99 %s)%s",
			b.serveWhere(), rate, b.withHistory(), durationOrDash(percentile(b.produceLag, 0.5)), durationOrDash(percentile(b.produceLag, 0.99)), dc.duplicatesNote())})
	return nil
}

// awaitDecisions waits until the decisions topic holds expected messages,
// or serve fails, or nothing is decided for a minute. It only asks the
// broker for offsets, which costs the engine nothing. It calls first
// (when not nil) once it sees the first decision.
func (b *bench) awaitDecisions(ctx context.Context, served chan error, label string, expected int64, first func()) error {
	var decided atomic.Int64
	stopBar := WatchProgress(b.cfg.Progress, label, expected, decided.Load)
	progressAt, progress := time.Now(), int64(-1)
	for {
		ends, err := b.endOffsets(ctx, b.cfg.DecisionsTopic)
		if err == nil {
			n := sumOffsets(ends)
			decided.Store(n)
			if n > 0 && first != nil {
				first()
				first = nil
			}
			if n >= expected {
				stopBar(fmt.Sprintf("%s: %d decisions published", label, n))
				return nil
			}
			if n != progress {
				progressAt, progress = time.Now(), n
			}
		}
		if time.Since(progressAt) > time.Minute {
			stopBar("")
			return fmt.Errorf("no decision for a minute: %d of %d decided (last error: %v)", decided.Load(), expected, err)
		}
		if err := waitOrServeEnded(ctx, served, 50*time.Millisecond); err != nil {
			stopBar("")
			return err
		}
	}
}

// awaitCommitted waits until serve's group committed every offset of the
// events topic (the last events' history is inserted), or serve fails, or
// no commit comes for a minute.
func (b *bench) awaitCommitted(ctx context.Context, served chan error) error {
	ends, err := b.endOffsets(ctx, b.cfg.EventsTopic)
	if err != nil {
		return err
	}
	want := sumOffsets(ends)
	parts := make([]int, b.cfg.Partitions)
	for p := range parts {
		parts[p] = p
	}
	progressAt, progress := time.Now(), int64(-1)
	for {
		resp, err := b.cfg.Kafka.Client(15*time.Second).OffsetFetch(ctx, &kafka.OffsetFetchRequest{
			GroupID: b.cfg.GroupID, Topics: map[string][]int{b.cfg.EventsTopic: parts}})
		if err == nil && resp.Error == nil {
			var n int64
			for _, po := range resp.Topics[b.cfg.EventsTopic] {
				n += max(po.CommittedOffset, 0)
			}
			if n >= want {
				return nil
			}
			if n != progress {
				progressAt, progress = time.Now(), n
			}
		}
		if time.Since(progressAt) > time.Minute {
			return fmt.Errorf("no offset committed for a minute: %d of %d (last error: %v)", progress, want, err)
		}
		if err := waitOrServeEnded(ctx, served, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitOrServeEnded sleeps for d, or returns early with an error when ctx
// ends or serve returned.
func waitOrServeEnded(ctx context.Context, served chan error, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-served:
		served <- err // for the deferred stop
		if err == nil {
			err = errors.New("stopped early")
		}
		return fmt.Errorf("serve: %w", err)
	case <-time.After(d):
		return nil
	}
}

// produceAtRate publishes freshly generated events at rate per second for
// d. Event i is due at start + i/rate: that is its occurred_at and its
// message timestamp, so a producer that falls behind shows as latency
// instead of hiding it. due, when not nil, collects the due time by
// event_id.
//
// Like a gateway, the producer does not stop while a batch waits for its
// acknowledgement: the writer sends asynchronously (NewEventWriter's
// 5 ms linger, several batches in flight) and reports each
// acknowledgement, where the producer's lag (due → acknowledged) is
// taken. Waiting for each batch's acknowledgement before sending the
// next held every event due meanwhile back by it: half of the p99 at
// 20 000/s (docs/performance.md).
func (b *bench) produceAtRate(ctx context.Context, gen *Generator, rate int, d time.Duration, due map[string]time.Time) (int64, error) {
	b.produceLag = b.produceLag[:0]
	var (
		mu       sync.Mutex
		firstErr error
	)
	w := newRateWriter(b.cfg.Kafka, b.cfg.EventsTopic, func(msgs []kafka.Message, err error) {
		acked := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		for _, m := range msgs {
			b.produceLag = append(b.produceLag, acked.Sub(m.Time))
		}
	})
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	total := int64(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	var sent atomic.Int64
	label := fmt.Sprintf("produce at %d/s", rate)
	if due == nil {
		label = "warm-up"
	}
	stopBar := WatchProgress(b.cfg.Progress, label, total, sent.Load)
	start := time.Now()
	var msgs []kafka.Message
	for n := int64(0); n < total && failed() == nil; {
		upTo := min(int64(time.Since(start)/interval)+1, total)
		if upTo <= n {
			time.Sleep(time.Millisecond)
			continue
		}
		msgs = msgs[:0]
		for ; n < upTo && len(msgs) < 5000; n++ {
			at := start.Add(time.Duration(n) * interval)
			ev := gen.Next(at)
			if due != nil {
				due[ev.EventID] = at
			}
			value, _ := json.Marshal(&ev)
			msgs = append(msgs, kafka.Message{Key: []byte(ev.UserID), Value: value, Time: at})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			_ = w.Close()
			stopBar("")
			return sent.Load(), fmt.Errorf("publishing to %s: %w", w.Topic, err)
		}
		sent.Add(int64(len(msgs)))
	}
	// Close sends what is left and waits for every acknowledgement.
	if err := errors.Join(w.Close(), failed()); err != nil {
		stopBar("")
		return sent.Load(), fmt.Errorf("publishing to %s: %w", w.Topic, err)
	}
	stopBar(fmt.Sprintf("%s: %d events in %s", label, sent.Load(), time.Since(start).Round(time.Millisecond)))
	return sent.Load(), nil
}

// newRateWriter returns the fixed-rate producer's writer: NewEventWriter's,
// asynchronous, calling acked with each batch once the broker
// acknowledged it (or with the error that stopped it).
func newRateWriter(k *kafkastream.Clients, topic string, acked func(msgs []kafka.Message, err error)) *kafka.Writer {
	w := NewEventWriter(k, topic)
	w.Async = true
	w.Completion = acked
	return w
}

// decisionCollector reads the decisions topic back incrementally. A
// decision for an event in due is a latency sample; any other counts for
// the drain. A redelivered event's decision is published again (delivery
// is at-least-once): only the first one counts.
type decisionCollector struct {
	b     *bench
	next  []int64 // per partition, the next offset to read
	total int64   // decision messages read, duplicates included
	seen  map[string]struct{}
	due   map[string]time.Time

	drainDistinct int
	first, last   time.Time // publish times of the drain's decisions
	latencies     []time.Duration
	duplicates    int
}

// decisionRecord is one decision message read back.
type decisionRecord struct {
	eventID   string
	published time.Time
}

// collectUntil reads what was published since the last call until done
// reports true, or nothing new arrives for a minute.
func (c *decisionCollector) collectUntil(ctx context.Context, served chan error, done func() bool) error {
	progressAt, progress := time.Now(), c.total
	for {
		if err := c.collect(ctx); err != nil {
			return err
		}
		if done() {
			return nil
		}
		if c.total != progress {
			progressAt, progress = time.Now(), c.total
		}
		if time.Since(progressAt) > time.Minute {
			return fmt.Errorf("some events have no decision after a minute (%d decisions read, %d for the drain, %d of %d for the latency stage)",
				c.total, c.drainDistinct, len(c.latencies), len(c.due))
		}
		if err := waitOrServeEnded(ctx, served, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// collect reads every partition up to its current end.
func (c *decisionCollector) collect(ctx context.Context) error {
	b := c.b
	topic := b.cfg.DecisionsTopic
	ends, err := b.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	var read atomic.Int64
	stopBar := WatchProgress(b.cfg.Progress, "reading decisions", sumOffsets(ends)-c.total, read.Load)
	records := make([][]decisionRecord, len(c.next))
	errs := make([]error, len(c.next))
	var wg sync.WaitGroup
	for p := range c.next {
		if c.next[p] >= ends[p] {
			continue
		}
		wg.Go(func() {
			r := b.cfg.Kafka.PartitionReader(topic, p, b.cfg.FetchBytes, nil)
			defer r.Close()
			if err := r.SetOffset(c.next[p]); err != nil {
				errs[p] = err
				return
			}
			for off := c.next[p]; off < ends[p]; {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					errs[p] = err
					return
				}
				off = m.Offset + 1
				read.Add(1)
				if id, ok := decisionEventID(m.Value); ok {
					records[p] = append(records[p], decisionRecord{eventID: id, published: m.Time})
				}
			}
		})
	}
	wg.Wait()
	stopBar(fmt.Sprintf("read %d decisions back", read.Load()))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reading %s: %w", topic, err)
	}
	for p := range c.next {
		c.next[p] = max(c.next[p], ends[p])
		for _, d := range records[p] {
			c.add(d)
		}
	}
	c.total += read.Load()
	return nil
}

func (c *decisionCollector) add(d decisionRecord) {
	if _, dup := c.seen[d.eventID]; dup {
		c.duplicates++
		return
	}
	c.seen[d.eventID] = struct{}{}
	if at, ok := c.due[d.eventID]; ok {
		c.latencies = append(c.latencies, d.published.Sub(at.Truncate(time.Millisecond)))
		return
	}
	c.drainDistinct++
	if c.first.IsZero() || d.published.Before(c.first) {
		c.first = d.published
	}
	if d.published.After(c.last) {
		c.last = d.published
	}
}

// duplicatesNote says how many decisions were published more than once so
// far (redelivery after a rebalance or a retried batch).
func (c *decisionCollector) duplicatesNote() string {
	if c.duplicates == 0 {
		return ""
	}
	return fmt.Sprintf("; %d decisions published twice (redelivered)", c.duplicates)
}

// serveWhere says where serve runs: in the bench's process, or in the
// processes ServeCPU measures.
func (b *bench) serveWhere() string {
	if b.cfg.ServeWhere != "" {
		return b.cfg.ServeWhere
	}
	return "in-process"
}

// cpuMeter starts measuring the CPU time of serve; the function it
// returns gives the time used since (zero without ServeCPU, or when a
// reading fails, which is logged).
func (b *bench) cpuMeter() func() time.Duration {
	if b.cfg.ServeCPU == nil {
		return func() time.Duration { return 0 }
	}
	start, err := b.cfg.ServeCPU()
	return func() time.Duration {
		end, err2 := b.cfg.ServeCPU()
		if err := errors.Join(err, err2); err != nil {
			b.cfg.Log.Warn("reading the CPU time of serve", "err", err)
			return 0
		}
		return end - start
	}
}

// perEvent is d divided among n events (zero when n is).
func perEvent(d time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

func (b *bench) withHistory() string {
	if b.cfg.History == "" {
		return ""
	}
	return ", history in ClickHouse"
}

// decisionEventID returns a decision message's event_id. EncodeDecision
// writes it first; anything else is decoded properly.
func decisionEventID(v []byte) (string, bool) {
	const prefix = `{"event_id":"`
	if bytes.HasPrefix(v, []byte(prefix)) {
		rest := v[len(prefix):]
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			return string(rest[:end]), true
		}
	}
	var d struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(v, &d) != nil || d.EventID == "" {
		return "", false
	}
	return d.EventID, true
}

// core replays the generated events through a fresh engine with no I/O
// (NDJSON from memory, decisions to io.Discard) on one goroutine: first
// with GOMAXPROCS=1 (one core, garbage collection included), then with
// GOMAXPROCS as it is (the collector gets the other cores).
func (b *bench) core(ctx context.Context) error {
	procs := runtime.GOMAXPROCS(0)
	for _, n := range []int{1, procs} {
		key, what := "core", fmt.Sprintf("engine core: replay from memory to io.Discard, one goroutine, GOMAXPROCS=%d", n)
		if n == 1 {
			key = "core-1cpu"
			if procs == 1 {
				what += " (as is)"
			}
		}
		r, err := b.replayOnce(ctx, key, n)
		if err != nil {
			return err
		}
		r.what = what
		if b.ingest > 0 {
			r.vsIngest = r.rate() / b.ingest
		}
		b.results = append(b.results, r)
		if procs == 1 {
			break
		}
	}
	return nil
}

func (b *bench) replayOnce(ctx context.Context, key string, procs int) (stageResult, error) {
	runtime.GC() // start from the same heap each time
	in := &countingReader{r: bytes.NewReader(b.data.ndjson)}
	total := int64(len(b.data.ndjson))
	events := int64(len(b.data.lines))
	stopBar := WatchProgress(b.cfg.Progress, key, events, func() int64 { return in.n.Load() * events / max(total, 1) })
	prev := runtime.GOMAXPROCS(procs)
	stopProfile := b.profile(key)
	start := time.Now()
	st, err := b.cfg.Replay(ctx, in)
	took := time.Since(start)
	stopProfile()
	runtime.GOMAXPROCS(prev)
	stopBar(fmt.Sprintf("%s: replayed %d events", key, st.Events))
	if err != nil {
		return stageResult{}, err
	}
	if st.Invalid > 0 {
		return stageResult{}, fmt.Errorf("%d invalid events in the generated traffic: %s", st.Invalid, firstLine(st.FirstProblem))
	}
	return stageResult{key: key, events: int64(st.Events), seconds: took.Seconds()}, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// print writes the table, the machine and the command.
func (b *bench) print(stdout io.Writer) {
	if len(b.results) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "\nstage\tevents\tseconds\tevents/s\tp50\tp99\tvs ingest\tCPU/event\twhat\n")
		for _, r := range b.results {
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\n", r.key, r.events, r.seconds, r.rate(),
				durationOrDash(r.p50), durationOrDash(r.p99), ratioOrDash(r.vsIngest), microsOrDash(r.cpu), r.what)
		}
		tw.Flush()
		b.printCost(stdout)
	}
	b.printHTTP(stdout)
	fmt.Fprintf(stdout, "\nkafka: %s; history: %s; geoip: %s\n", orDash(b.cfg.Broker, "not used"), historyWhat(b.cfg.History), b.cfg.GeoIP)
	fmt.Fprintf(stdout, "machine: %d CPUs (GOMAXPROCS %d), %s, %s %s/%s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "command: %s\n", b.cfg.Command)
}

func durationOrDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func microsOrDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

func ratioOrDash(r float64) string {
	if r == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", r)
}

// cpuModel is the processor's model name from /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
