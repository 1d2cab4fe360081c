package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// daemonOptions are what a caller of the daemon's lifecycle changes.
type daemonOptions struct {
	// migrate applies the ClickHouse migrations before the history
	// writer starts.
	migrate bool
	// historyOptional: a history that cannot be opened is reported by
	// withoutHistory and the daemon runs without; else it is an error.
	historyOptional bool
	withoutHistory  func(err error)
	// signals reloads the rules on SIGHUP.
	signals bool
	// token is the admin token of the HTTP API when none is configured
	// ("": generated).
	token string
}

// daemon is the lifecycle of serve, shared by serve, demo and bench:
// build (Kafka stream, history, engine core) → warm (from history) → run
// (consume until ctx ends, with the background parts and the HTTP API) →
// drain (the consumer drains and commits, then the API stops, then the
// background parts, history last).
type daemon struct {
	cfg    Config
	log    *slog.Logger
	stderr io.Writer
	opts   daemonOptions

	stream  *kafkastream.Stream
	history *history.Writer // nil without history
	core    *core
	srv     *httpServer

	// started is when the daemon started, before the warm-up: the
	// shared addresses are followed from then on (addresses.go).
	started time.Time

	stopBackground context.CancelFunc
	bg             sync.WaitGroup
}

// newDaemon builds the daemon and warms it from history; Close releases
// what it built.
func newDaemon(ctx context.Context, cfg Config, log *slog.Logger, stderr io.Writer, opts daemonOptions) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, log: log, stderr: stderr, opts: opts, started: time.Now()}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.stream, err = newStream(cfg, log); err != nil {
		return nil, err
	}
	if cfg.Kafka.CreateTopics {
		if err := retry(ctx, log, "creating Kafka topics", func() error { return d.stream.EnsureTopics(ctx) }); err != nil {
			return nil, err
		}
	}
	d.history, err = openHistory(ctx, cfg, log, stderr, opts.migrate)
	if err != nil {
		if !opts.historyOptional {
			return nil, err
		}
		opts.withoutHistory(err)
		d.cfg.ClickHouse.DSN = ""
		d.history = nil
	}
	rec := engine.Recorder{Publisher: d.stream}
	if d.history != nil {
		rec.History = d.history
	}
	if d.core, err = buildCore(d.cfg, log, time.Now, rec, d.stream); err != nil {
		return nil, err
	}
	if d.history != nil && d.cfg.ClickHouse.WarmUp {
		start := time.Now()
		st, err := d.core.engine.WarmUp(ctx, d.history)
		if err != nil {
			return nil, err
		}
		log.Info("state rebuilt from history", "anchor", st.Anchor, "profiles", st.Profiles, "events", st.Events, "offences", st.Offences, "locks", st.Locks, "locks_refused", st.LocksRefused, "took", time.Since(start).Round(time.Millisecond))
		if d.cfg.Kafka.PublishBeforeHistory {
			// Decisions went out ahead of their history rows: read back
			// those a crash may have left out of history, so that their
			// redelivered events get them again (docs/reliability.md).
			start := time.Now()
			ps, err := d.core.engine.WarmPublished(ctx, d.stream, st.PublishedSince)
			if err != nil {
				return nil, err
			}
			log.Info("published decisions read back", "since", ps.Since, "read", ps.Read, "remembered", ps.Remembered, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return d, nil
}

// start starts the background parts and the HTTP API. They run until
// drain, which is after the consumer drained: history must outlive the
// last batch it is asked to store.
func (d *daemon) start(ctx context.Context) error {
	bgCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopBackground = stop
	c, h, log := d.core, d.history, d.log
	if h != nil {
		d.bg.Go(func() {
			if err := h.Run(bgCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("history writer stopped", "err", err)
			}
		})
	}
	if d.cfg.Rules.Watch && d.cfg.Rules.Dir != "" {
		d.bg.Go(func() {
			if err := c.rules.Run(bgCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("rules watcher stopped", "err", err)
			}
		})
	}
	d.bg.Go(func() { c.sweep(bgCtx, d.cfg.Engine.SweepInterval, c.eventTime) })
	d.shareAddresses(bgCtx)
	if d.opts.signals {
		d.bg.Go(func() { reloadOnSIGHUP(bgCtx, c, log) })
	}
	srv, err := startHTTP(bgCtx, d.cfg, c, d.stream, h, log, d.stderr, d.opts.token)
	if err != nil {
		return err
	}
	d.srv = srv
	return nil
}

// run consumes until ctx ends; it returns after the partitions drained
// and committed.
func (d *daemon) run(ctx context.Context) error {
	d.log.Info("loginrisk serving", "brokers", d.cfg.Kafka.Brokers, "topic", d.cfg.Kafka.EventsTopic, "group", d.cfg.Kafka.GroupID,
		"rules_version", d.core.engine.RulesVersion(), "http", d.cfg.HTTP.Addr, "history", d.history != nil)
	return d.stream.Run(ctx, d.core.engine)
}

// drain stops the HTTP API, then the background parts (history flushes
// what it holds).
func (d *daemon) drain() {
	if d.srv != nil {
		d.srv.shutdown()
	}
	if d.stopBackground != nil {
		d.stopBackground()
	}
	d.bg.Wait()
}

// Close releases the engine core, the history writer and the stream.
func (d *daemon) Close() {
	if d.core != nil {
		d.core.Close()
	}
	if d.history != nil {
		d.history.Close()
	}
	if d.stream != nil {
		d.stream.Close()
	}
}

// serve runs the daemon until ctx ends, then drains it.
func serve(ctx context.Context, cfg Config, log *slog.Logger, stderr io.Writer) error {
	return serveNotify(ctx, cfg, log, stderr, nil)
}

// serveNotify is serve that calls started (when not nil) with the daemon
// once its background parts and HTTP API run, before it consumes.
func serveNotify(ctx context.Context, cfg Config, log *slog.Logger, stderr io.Writer, started func(*daemon)) error {
	d, err := newDaemon(ctx, cfg, log, stderr, daemonOptions{migrate: cfg.ClickHouse.Migrate, signals: true})
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.start(ctx); err != nil {
		d.drain()
		return err
	}
	if started != nil {
		started(d)
	}
	runErr := d.run(ctx)
	d.log.Info("intake stopped; shutting down")
	d.drain()
	if runErr != nil {
		return runErr
	}
	log.Info("loginrisk stopped cleanly")
	return nil
}
