package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// cmdServe is the daemon: Kafka in and out, the HTTP API, ClickHouse
// history. SIGHUP reloads the rules; SIGTERM stops intake, drains the
// partitions, flushes history, commits and exits 0.
func cmdServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("serve", stderr)
	cfg, err := fs.parseConfig(args, needKafka|needDecisionKeys)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	applyRuntime(cfg.Runtime, cfg.State.storeConfig(), os.LookupEnv, log)
	return serve(ctx, cfg, log, stderr)
}

// newStream builds the Kafka adapter from the configuration.
func newStream(cfg Config, log *slog.Logger) (*kafkastream.Stream, error) {
	sc := cfg.Kafka.streamConfig()
	sc.Logger = log
	return kafkastream.New(sc)
}

// kafkaClients builds the Kafka client factory (brokers, TLS, SASL) from
// the configuration, for the tools that are not the stream.
func kafkaClients(cfg Config) (*kafkastream.Clients, error) {
	sc := cfg.Kafka.streamConfig()
	return sc.Clients()
}

// reloadOnSIGHUP reloads the rules on every SIGHUP.
func reloadOnSIGHUP(ctx context.Context, c *core, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := c.rules.Reload(); err != nil {
				log.Error("rules reload on SIGHUP failed; keeping the previous rules", "err", err)
				continue
			}
			log.Info("rules reloaded on SIGHUP", "rules_version", c.engine.RulesVersion())
		}
	}
}

// retry runs fn until it succeeds or ctx ends, backing off up to 5 s; the
// first failure and every tenth are logged.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	err := engine.Retry(ctx, engine.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}, func(attempt int) error {
		err := fn()
		if err != nil && (attempt == 1 || attempt%10 == 0) {
			log.Warn(what+" failed, retrying", "attempt", attempt, "err", err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
