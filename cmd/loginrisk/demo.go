package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// demoGeoIP is the test databases generated into testdata/ (see
// features/mmdbgen); the demo uses them when run from the repository and
// no database is configured.
func demoGeoIP() enrich.EnricherConfig {
	return enrich.EnricherConfig{
		CityPath:      "testdata/geoip/City-Test.mmdb",
		ASNPath:       "testdata/geoip/ASN-Test.mmdb",
		AnonymousPath: "testdata/geoip/Anonymous-IP-Test.mmdb",
	}
}

// cmdDemo runs everything in one process: an in-process Kafka-protocol
// broker (unless --kafka-brokers is given), a traffic generator playing the
// gateway, the engine consuming and deciding, a reader of the decisions
// topic for the live progress line, and the HTTP API.
func cmdDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("demo", stderr)
	duration := fs.Duration("duration", 30*time.Second, "how long to generate traffic")
	rate := fs.Int("rate", 400, "login attempts per second")
	users := fs.Int("users", 2000, "ordinary users in the population")
	seed := fs.Uint64("seed", 1, "traffic seed")
	httpToken := fs.String("http-token", "", "bearer `token` for the HTTP API (default: generated); written to http.token_file, whose path is printed")
	noClickHouse := fs.Bool("no-clickhouse", false, "do not look for a local ClickHouse to write history to")
	cfg, err := fs.parseConfig(args, 0)
	if err != nil {
		return err
	}
	cfg.GeoIP = cfg.GeoIP.orTestDatabases()
	if cfg.GeoIP.namesDatabase() {
		fmt.Fprintf(stderr, "demo: GeoIP %s\n", cfg.GeoIP.describe())
	} else {
		fmt.Fprintln(stderr, "demo: testdata/geoip not found (run from the repository root); running without GeoIP")
	}
	// The demo's terminal is for its progress line.
	log := newLogger(stderr, fs.quietLog(cfg.Log))
	applyRuntime(cfg.Runtime, cfg.State.storeConfig(), os.LookupEnv, log)

	if len(cfg.Kafka.Brokers) == 0 {
		addrs, stop, err := loadgen.StartBroker(cfg.Kafka.Partitions)
		if err != nil {
			return err
		}
		defer stop()
		cfg.Kafka.Brokers = addrs
		fmt.Fprintf(stderr, "demo: in-process Kafka-protocol broker on %s\n", strings.Join(cfg.Kafka.Brokers, ","))
	} else {
		fmt.Fprintf(stderr, "demo: using Kafka at %s\n", strings.Join(cfg.Kafka.Brokers, ","))
		// A fresh group and topics per run keep runs apart on a shared broker.
		suffix := fmt.Sprintf("-demo-%d", time.Now().Unix())
		cfg.Kafka.GroupID += suffix
		cfg.Kafka.EventsTopic += suffix
		cfg.Kafka.DecisionsTopic += suffix
		cfg.Kafka.DLQTopic += suffix
		cfg.Kafka.AddressesTopic += suffix
	}

	// One process reads its own decisions: a key for this run will do,
	// unless the configuration names keys.
	if err := cfg.Kafka.withRunDecisionKey(); err != nil {
		return err
	}
	found := false
	if cfg.ClickHouse.DSN == "" && !*noClickHouse {
		cfg.ClickHouse.DSN = DSN(findDemoClickHouse(ctx, stderr))
		found = cfg.ClickHouse.DSN != ""
	}
	d := &demo{cfg: cfg, log: log, stderr: stderr, stdout: stdout, historyFound: found}
	return d.run(ctx, *duration, *rate, *users, *seed, *httpToken)
}

type demo struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer

	// history is the ClickHouse writer, nil without history;
	// historyFound says the demo found that ClickHouse by itself.
	history      *history.Writer
	historyFound bool

	kafka *kafkastream.Clients // the stream's, for the traffic and the decisions read back

	produced  atomic.Int64
	malformed atomic.Int64
	decided   atomic.Int64
	byKind    [3]atomic.Int64
	mu        sync.Mutex
	byRule    map[string]int64
	examples  map[string]string // rule → an example detail

	// progressLast is the progress line, when it was last printed, and
	// the decisions counted then (for the rate); printProgress's alone.
	progressLast struct {
		line    *loadgen.StatusLine
		at      time.Time
		decided int64
	}
}

// run is serve's daemon plus the traffic generator and a reader of the
// decisions: it runs the daemon, produces for duration, waits for every
// valid event's decision to come back, then drains the daemon and prints
// the summary.
func (d *demo) run(ctx context.Context, duration time.Duration, rate, users int, seed uint64, token string) error {
	d.cfg.Kafka.CreateTopics = true
	d.cfg.ClickHouse.WarmUp = false // the demo starts afresh
	dm, err := newDaemon(ctx, d.cfg, d.log, d.stderr, daemonOptions{migrate: true, token: token,
		historyOptional: d.historyFound, withoutHistory: func(err error) {
			// A local ClickHouse the demo found by itself, not one it was
			// asked to use: say why it cannot be used and run without.
			fmt.Fprintf(d.stderr, "demo: the ClickHouse found at %s cannot be used (%v); running without history\n", d.cfg.ClickHouse.DSN, err)
		}})
	if err != nil {
		return err
	}
	defer dm.Close()
	d.cfg, d.kafka, d.history = dm.cfg, dm.stream.Clients(), dm.history
	d.progressLast.line = loadgen.NewStatusLine(d.stderr, 500*time.Millisecond)

	runCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	if err := dm.start(runCtx); err != nil {
		dm.drain()
		return err
	}
	engineDone := make(chan error, 1)
	go func() { engineDone <- dm.run(runCtx) }()
	if srv := dm.srv; srv.url != "" {
		signIn := "a read or admin token of http.tokens"
		if srv.tokenFile != "" {
			signIn = "the admin token in " + srv.tokenFile
		}
		fmt.Fprintf(d.stderr, "demo: console on %s/ui/ (sign in with %s)\n", srv.url, signIn)
	}
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); d.watchDecisions(watchCtx) }()

	fmt.Fprintf(d.stderr, "demo: %d users, %d attempts/s for %s; attacks: %s\n", users, rate, duration,
		strings.Join(loadgen.New(loadgen.Config{Users: 1, Seed: seed}).Scenarios(), ", "))
	d.progressLast.at = time.Now() // the first line's rate counts from here
	produceErr := d.produce(ctx, duration, rate, users, seed)

	// Wait for every valid event's decision to come back, then stop.
	deadline := time.Now().Add(30 * time.Second)
	for d.decided.Load() < d.produced.Load()-d.malformed.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		d.printProgress(time.Now())
		time.Sleep(100 * time.Millisecond)
	}
	d.progressLast.line.Clear()
	stopWatch()
	<-watchDone
	stopEngine()
	runErr := <-engineDone
	dm.drain()
	d.summary(dm.core.engine, dm.stream)
	if produceErr != nil && !errors.Is(produceErr, context.Canceled) {
		return produceErr
	}
	return runErr
}

// demoMalformedEvery is how often the demo sends a malformed event (and
// one at the start), to show the dead-letter path.
const demoMalformedEvery = 2000

// produce publishes generated traffic at rate for duration, with event
// time = wall clock, plus a malformed message at the start and every
// demoMalformedEvery events to show the dead-letter path (loadgen.Live).
func (d *demo) produce(ctx context.Context, duration time.Duration, rate, users int, seed uint64) error {
	w := loadgen.NewEventWriter(d.kafka, d.cfg.Kafka.EventsTopic)
	defer w.Close()
	err := loadgen.Live(ctx, w, loadgen.LiveConfig{Duration: duration, Rate: rate, Users: users, Seed: seed, MalformedEvery: demoMalformedEvery,
		Sent: func(now time.Time, messages, malformed int) {
			d.produced.Add(int64(messages))
			d.malformed.Add(int64(malformed))
			d.printProgress(now)
		}})
	if err != nil {
		return fmt.Errorf("demo traffic: %w", err)
	}
	return nil
}

// watchDecisions reads the decisions topic, as the gateway would, and
// counts what comes back.
func (d *demo) watchDecisions(ctx context.Context) {
	r := d.kafka.GroupReader(d.cfg.Kafka.DecisionsTopic, d.cfg.Kafka.GroupID+"-watch")
	defer r.Close()
	d.byRule = map[string]int64{}
	d.examples = map[string]string{}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return
		}
		var dec schemas.Decision
		if err := json.Unmarshal(m.Value, &dec); err != nil {
			continue
		}
		d.decided.Add(1)
		switch dec.Decision {
		case schemas.VerdictAllow:
			d.byKind[0].Add(1)
		case schemas.VerdictChallenge:
			d.byKind[1].Add(1)
		case schemas.VerdictLockout:
			d.byKind[2].Add(1)
		}
		d.mu.Lock()
		for _, r := range dec.Reasons {
			d.byRule[r.Rule]++
			if _, ok := d.examples[r.Rule]; !ok && r.Detail != "" {
				d.examples[r.Rule] = r.Detail
			}
		}
		d.mu.Unlock()
	}
}
