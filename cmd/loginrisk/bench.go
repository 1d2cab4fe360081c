package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// errOnlyAndSkip is returned when bench is given both --only and --skip.
var errOnlyAndSkip = errors.New("--only and --skip exclude each other")

// cmdBench is the throughput and latency harness (loadgen.RunBench,
// docs/performance.md) run on this configuration's serve pipeline.
func cmdBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("bench", stderr)
	var o loadgen.BenchConfig
	fs.IntVar(&o.Events, "events", 1_000_000, "login events to generate and publish")
	fs.IntVar(&o.Users, "users", 200_000, "ordinary users in the generated population")
	fs.IntVar(&o.Partitions, "partitions", 6, "partitions of the bench topics")
	fs.Uint64Var(&o.Seed, "seed", 1, "traffic seed")
	fs.IntVar(&o.EventRate, "event-rate", 1000, "events per second of event time in the generated traffic (they end now)")
	fs.IntVar(&o.Rate, "rate", 0, "events/s produced during the latency stage (default: half the measured drain throughput)")
	fs.DurationVar(&o.LatencyFor, "latency-duration", 20*time.Second, "how long the latency stage produces")
	skip := fs.String("skip", "", "comma-separated stages to skip: "+strings.Join(loadgen.BenchStages(), ", "))
	only := fs.String("only", "", "comma-separated stages to run, the others skipped; the http stage runs only when named here")
	fs.IntVar(&o.HTTPRate, "http-rate", 10_000, "requests/s of each run of the http stage (open loop)")
	fs.DurationVar(&o.HTTPFor, "http-duration", 5*time.Second, "how long each measured run of the http stage sends")
	fs.StringVar(&o.ProfileDir, "cpuprofile", "", "write a CPU profile of each stage to `dir`/<stage>.pprof")
	fs.IntVar(&o.FetchBytes, "fetch-max-bytes", 4<<20, "MaxBytes of each fetch of the ingest-limit and decision readers")
	fs.IntVar(&o.BrokerPID, "broker-pid", 0, "pid of the Kafka broker, for its CPU per event (default: the process listening on a loopback broker's port)")
	fs.IntVar(&o.ClickHousePID, "clickhouse-pid", 0, "pid of the ClickHouse server, for its CPU per event (default: the process listening on a loopback DSN's port)")
	keep := fs.Bool("keep", false, "keep the bench topics and ClickHouse database of a real broker / server")
	instances := fs.Int("instances", 0, "run serve as `N` processes of this binary in one consumer group, measuring their CPU time per event (0: in the bench's process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Skip = map[string]bool{}
	if *only != "" && *skip != "" {
		return errOnlyAndSkip
	}
	for flag, list := range map[string]string{"--skip": *skip, "--only": *only} {
		for _, s := range splitList(list) {
			if !slices.Contains(loadgen.BenchStages(), s) {
				return fmt.Errorf("%s: unknown stage %q (stages: %s)", flag, s, strings.Join(loadgen.BenchStages(), ", "))
			}
			o.Skip[s] = true
		}
	}
	if *only != "" { // skip the others
		for _, s := range loadgen.BenchStages() {
			o.Skip[s] = !o.Skip[s]
		}
		if !o.Skip[loadgen.StageIngest] || !o.Skip[loadgen.StageDrain] {
			o.Skip[loadgen.StageProduce] = false // they read what it publishes
		}
	} else {
		// The API's stage runs only when named: it measures the HTTP
		// server, not the pipeline, and serves in this process even with
		// --instances.
		o.Skip[loadgen.StageHTTP] = true
	}
	if o.Events < 1 || o.Users < 1 || o.Partitions < 1 || o.EventRate < 1 || o.Rate < 0 || o.LatencyFor <= 0 || o.FetchBytes < 1 || *instances < 0 ||
		o.HTTPRate < 1 || o.HTTPRate > loadgen.MaxHTTPRate || o.HTTPFor <= 0 {
		return fmt.Errorf("--events, --users, --partitions, --event-rate, --latency-duration, --fetch-max-bytes and --http-duration must be positive, --rate and --instances not negative, --http-rate in 1..%d", loadgen.MaxHTTPRate)
	}
	if o.Skip[loadgen.StageProduce] {
		o.Skip[loadgen.StageIngest], o.Skip[loadgen.StageDrain] = true, true // nothing to read
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	if *instances > 0 {
		stderr = sharedStderr(stderr)
	}
	cfg.GeoIP = cfg.GeoIP.orTestDatabases()
	// The harness's engine is the only reader of its decisions.
	if err := cfg.Kafka.withRunDecisionKey(); err != nil {
		return err
	}
	logCfg := fs.quietLog(cfg.Log)
	o.Log, o.Progress, o.Command = newLogger(stderr, logCfg), stderr, benchCommand(args)
	// This process is the server of the http stage (the floor too) and
	// the core's: the collector set as serve sets it.
	applyRuntime(cfg.Runtime, cfg.State.storeConfig(), os.LookupEnv, o.Log)
	cfg.Log = logCfg // the serve instances' too
	return runBench(ctx, o, cfg, *keep, *instances, stdout)
}

// runBench makes the run's topics and database unique to it (and removes
// them after, unless keep), starts the in-process broker when no brokers
// are configured, and runs the harness on serve (in this process, or as
// instances processes) and the engine core.
func runBench(ctx context.Context, o loadgen.BenchConfig, cfg Config, keep bool, instances int, stdout io.Writer) error {
	suffix := fmt.Sprintf("-bench-%d", time.Now().UnixNano())
	kc := &cfg.Kafka
	kc.GroupID += suffix
	kc.EventsTopic += suffix
	kc.DecisionsTopic += suffix
	kc.DLQTopic += suffix
	kc.AddressesTopic += suffix
	kc.InstancesTopic += suffix // other runs' instances own no partition of this run
	kc.Partitions = o.Partitions
	kc.CreateTopics = true
	cfg.HTTP.Addr = "" // no listener: the bench drives Kafka only
	needKafka := !o.Skip[loadgen.StageProduce] || !o.Skip[loadgen.StageLatency] || !o.Skip[loadgen.StageHTTP]
	if !needKafka {
		cfg.ClickHouse.DSN = "" // only serve writes history
	}
	if needKafka {
		real := len(kc.Brokers) > 0
		if real {
			o.Broker = "Kafka at " + strings.Join(kc.Brokers, ",")
			o.BrokerAddrs = kc.Brokers
		} else {
			addrs, stop, err := loadgen.StartBroker(o.Partitions)
			if err != nil {
				return err
			}
			defer stop()
			kc.Brokers = addrs
			o.Broker = "in-process Kafka-protocol broker (kfake)"
		}
		if cfg.ClickHouse.DSN != "" {
			dsn, db, err := benchDSN(string(cfg.ClickHouse.DSN), suffix)
			if err != nil {
				return err
			}
			cfg.ClickHouse.DSN = DSN(dsn)
			conn, err := cfg.ClickHouse.connString()
			if err != nil {
				return err
			}
			if !keep {
				defer loadgen.DropDatabase(conn, db, o.Log)
			}
		}
		stream, err := newStream(cfg, o.Log)
		if err != nil {
			return err
		}
		defer stream.Close()
		if err := stream.EnsureTopics(ctx); err != nil {
			return err
		}
		if real && !keep {
			defer loadgen.DeleteTopics(stream.Clients(), o.Log, kc.EventsTopic, kc.DecisionsTopic, kc.DLQTopic, kc.AddressesTopic, kc.InstancesTopic)
		}
		o.Kafka, o.GroupID, o.EventsTopic, o.DecisionsTopic = stream.Clients(), kc.GroupID, kc.EventsTopic, kc.DecisionsTopic
	}
	if cfg.ClickHouse.DSN != "" {
		o.History = "ClickHouse " + cfg.ClickHouse.DSN.String()
		if u, err := url.Parse(string(cfg.ClickHouse.DSN)); err == nil {
			o.ClickHouseAddrs = strings.Split(u.Host, ",")
		}
	}
	o.GeoIP = cfg.GeoIP.describe()
	o.Serve = func(ctx context.Context) error { return serve(ctx, cfg, o.Log, o.Progress) }
	o.ServeHTTP, o.LoadHTTP = benchServeHTTP(cfg, o.Log, o.Progress), benchLoadHTTP(o.Progress)
	if instances > 0 {
		if cfg.ClickHouse.DSN != "" {
			// Once here, not by every instance at the same moment.
			dsn, err := cfg.ClickHouse.connString()
			if err != nil {
				return err
			}
			if err := history.Migrate(ctx, dsn, o.Log); err != nil {
				return err
			}
		}
		bi := &benchInstances{n: instances, cfg: cfg, stderr: o.Progress}
		o.Serve, o.ServeCPU = bi.serve, bi.cpu
		o.ServeWhere = "as 1 process"
		if instances > 1 {
			o.ServeWhere = fmt.Sprintf("as %d processes in one group", instances)
		}
	}
	o.Replay = func(ctx context.Context, in io.Reader) (loadgen.ReplayStats, error) {
		c, err := buildOffline(cfg, o.Log)
		if err != nil {
			return loadgen.ReplayStats{}, err
		}
		defer c.Close()
		var problems bytes.Buffer
		st, err := replay(ctx, c.lane(), in, io.Discard, &problems)
		first, _, _ := strings.Cut(problems.String(), "\n")
		return loadgen.ReplayStats{Events: st.events, Invalid: st.invalid, FirstProblem: first}, err
	}
	return loadgen.RunBench(ctx, o, stdout)
}

// benchDSN points dsn at a fresh database named after the run.
func benchDSN(dsn, suffix string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", fmt.Errorf("--clickhouse-dsn: %w", err)
	}
	db := "loginrisk" + strings.ReplaceAll(suffix, "-", "_")
	u.Path = "/" + db
	return u.String(), db, nil
}

// benchCommand is the command line that ran the bench, quoted for a
// shell, with the password of a DSN redacted.
func benchCommand(args []string) string {
	parts := []string{"loginrisk", "bench"}
	for i, a := range args {
		if strings.HasPrefix(a, "--clickhouse-dsn=") || strings.HasPrefix(a, "-clickhouse-dsn=") {
			k, v, _ := strings.Cut(a, "=")
			a = k + "=" + redactDSN(v)
		} else if i > 0 && strings.TrimLeft(args[i-1], "-") == "clickhouse-dsn" {
			a = redactDSN(a)
		}
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
