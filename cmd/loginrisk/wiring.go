package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
)

// core is the engine with the parts it owns.
type core struct {
	engine   *engine.Engine
	rules    *rules.Manager
	store    *state.Store
	enricher *enrich.Enricher
}

// offlineSketchSeed seeds the familiarity sketches of offline scoring,
// whose decisions must be the same on every run of the same events.
const offlineSketchSeed = 0x6c6f67696e726b // "loginrk"

// buildCore loads rules and GeoIP databases and builds the engine. clock
// nil gives replay semantics (decided_at = occurred_at, no skew check,
// the familiarity sketches' seed fixed).
// stream, when not nil, takes the dead letters and, with
// kafka.share_addresses, the address side of every attempt scored.
func buildCore(cfg Config, log *slog.Logger, clock func() time.Time, rec engine.Recorder, stream *kafkastream.Stream) (*core, error) {
	rm, err := rules.NewManager(rules.ManagerConfig{Dir: cfg.Rules.Dir, Logger: log})
	if err != nil {
		return nil, err
	}
	enricher, err := enrich.NewEnricher(cfg.GeoIP.EnricherConfig)
	if err != nil {
		return nil, err
	}
	sc := cfg.State.storeConfig()
	if clock == nil {
		sc.SketchSeed = offlineSketchSeed
	}
	store, err := state.NewStore(sc)
	if err != nil {
		enricher.Close()
		return nil, err
	}
	ecfg := engine.Config{
		Rules:           rm,
		Enricher:        enricher,
		State:           store,
		Counters:        store,
		Trust:           store,
		Profiles:        store,
		Recorder:        rec,
		Clock:           clock,
		RecentDecisions: cfg.Engine.RecentDecisions,
		Logger:          log,
	}
	if stream != nil {
		ecfg.DLQ = stream
		if cfg.Kafka.ShareAddresses {
			ecfg.Addresses = stream
		}
	}
	if cfg.HTTP.Addr != "" {
		ecfg.FeedSize = cfg.Engine.FeedSize // only the console reads it
	}
	if fw, ok := rec.History.(engine.FeedbackWriter); ok {
		ecfg.Feedback = fw // analysts' labels go to the history's feedback table
	}
	if clock != nil {
		ecfg.MaxFutureSkew = cfg.Engine.MaxFutureSkew
		ecfg.MaxPastSkew = cfg.Engine.MaxPastSkew
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		enricher.Close()
		return nil, err
	}
	return &core{engine: eng, rules: rm, store: store, enricher: enricher}, nil
}

// buildOffline builds the engine of an offline command (replay, eval,
// backtest, the bench's replay stage): replay semantics, nothing
// recorded, no stream.
func buildOffline(cfg Config, log *slog.Logger) (*core, error) {
	return buildCore(cfg, log, nil, engine.Recorder{}, nil)
}

// lane is the core as a lane of an offline run.
func (c *core) lane() offline.Lane {
	return offline.Lane{Engine: c.engine, State: c.store}
}

func (c *core) Close() {
	c.enricher.Close()
}

// eventTime is the time serve sweeps at: the engine's event time (the
// newest occurred_at scored or warmed up), never later than the wall clock.
// Sweeping at the wall clock would drop every window and lock of a backlog
// or of a replay of older events as idle, a minute after it was built.
func (c *core) eventTime() time.Time {
	t, now := c.engine.EventTime(), time.Now()
	if t.Before(now) {
		return t
	}
	return now
}

// sweep drops idle state and expired locks every interval, relative to
// the newest event time the clock gives.
func (c *core) sweep(ctx context.Context, interval time.Duration, now func() time.Time) {
	engine.Every(ctx, interval, func() {
		at := now()
		c.store.Sweep(at)
		c.engine.Locks().Sweep(at, 48*time.Hour)
	})
}
