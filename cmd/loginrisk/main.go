// Command loginrisk is the streaming login risk-scoring engine: one binary
// whose subcommands run the daemon, a self-contained demo, offline replay,
// rule tooling, ClickHouse migrations and analyst queries. It only wires
// the packages together: parse options, validate, build, run, wait.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

const usage = `loginrisk — streaming login risk scoring

Usage:
  loginrisk serve   [--config F]                  daemon: Kafka in/out, HTTP API, ClickHouse history
  loginrisk demo    [--duration D] [--http ADDR]  everything embedded: broker, traffic, engine, HTTP
  loginrisk replay  --events F|- [--out F|-]      offline scoring of NDJSON events, deterministic
  loginrisk produce --events F|- --kafka-brokers B  publish NDJSON events to login-events
  loginrisk eval    --events F --labels L         detection and false positives vs a fail2ban baseline
  loginrisk eval    --generate DIR [--seed N]     write the labelled scenarios (events and labels)
  loginrisk backtest --rules NEW [--base DIR] (--events F | --clickhouse-dsn DSN --from T [--to T]) [--labels L]
                                                  what a rule change would change, on the same events
  loginrisk rules check DIR                       validate a rules folder
  loginrisk rules test DIR                        run the rule test cases in DIR/tests
  loginrisk migrate [--config F]                  apply ClickHouse migrations
  loginrisk query NAME [--param k=v ...]          run an analyst query from the query pack
  loginrisk bench   [--events N]                  throughput and latency harness
  loginrisk load    --url U --what W --rate N     HTTP load against an API on this machine

Common flags (override the config file and LOGINRISK_* variables):
  --config F --rules DIR --kafka-brokers B --clickhouse-dsn DSN
  --geoip-city F --geoip-asn F --geoip-anonymous F --http ADDR --check-config

Run 'loginrisk COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitCode carries a process exit status through an error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// run dispatches to a subcommand and maps its error to an exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer) error{
		"serve":    cmdServe,
		"demo":     cmdDemo,
		"replay":   cmdReplay,
		"eval":     cmdEval,
		"backtest": cmdBacktest,
		"produce":  cmdProduce,
		"rules":    cmdRules,
		"migrate":  cmdMigrate,
		"query":    cmdQuery,
		"bench":    cmdBench,
		"load":     cmdLoad,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "loginrisk: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if path := os.Getenv("LOGINRISK_CPUPROFILE"); path != "" {
		// A CPU profile of the whole run, for performance work on a
		// running daemon (docs/performance.md).
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "loginrisk: LOGINRISK_CPUPROFILE: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	err := cmd(ctx, args[1:], stdin, stdout, stderr)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "loginrisk %s: %v\n", args[0], err)
		return 1
	}
}

// newLogger builds the process logger from the log section.
func newLogger(w io.Writer, cfg LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// startCPUProfile writes a CPU profile to path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
