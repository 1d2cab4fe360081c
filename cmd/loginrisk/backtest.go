package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/loginrisk/loginrisk/engine/backtest"
	"github.com/loginrisk/loginrisk/engine/eval"
	"github.com/loginrisk/loginrisk/engine/history"
	"github.com/loginrisk/loginrisk/engine/offline"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// cmdBacktest scores the same events with a base and a new rule set in one
// pass and prints what would change (rules/README.md: changing a rule
// safely). The events come from an NDJSON file or from the ClickHouse
// history.
func cmdBacktest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("backtest", stderr) // --rules is the new rule set here
	base := fs.String("base", "", "rules `dir` to compare against (default: the embedded rule set)")
	events := fs.eventsFlag(false)
	from := fs.String("from", "", "with --clickhouse-dsn: the first event `time` (RFC 3339, 2006-01-02, -24h, now)")
	to := fs.String("to", "now", "with --clickhouse-dsn: the `time` the events end before")
	labelsPath := fs.String("labels", "", "NDJSON `file` of labels (event_id, kind, campaign, attack) for precision and recall (default: the analysts' feedback in ClickHouse, with --clickhouse-dsn)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.common.rules == "" {
		return fs.usageError("--rules NEW is required: the rules folder to try")
	}
	if (*events == "") == (*from == "") {
		return fs.usageError("give either --events F or --from T (with --clickhouse-dsn) to read the history")
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	cfg.GeoIP = cfg.GeoIP.orTestDatabases()
	var labels eval.Labels
	switch {
	case *labelsPath != "":
		if labels, err = readLabelsFile(*labelsPath); err != nil {
			return err
		}
	case cfg.ClickHouse.DSN != "":
		if labels, err = feedbackLabels(ctx, cfg); err != nil {
			return err
		}
	}
	src, closeSrc, err := backtestSource(ctx, cfg, *events, *from, *to, stdin, stderr)
	if err != nil {
		return err
	}
	defer closeSrc()
	log := newLogger(stderr, fs.quietLog(cfg.Log))
	baseCfg := cfg
	baseCfg.Rules.Dir = *base
	lanes := make([]offline.Lane, 2)
	for i, c := range []Config{baseCfg, cfg} {
		core, err := buildOffline(c, log)
		if err != nil {
			return fmt.Errorf("%s rules: %w", [2]string{"base", "new"}[i], err)
		}
		defer core.Close()
		lanes[i] = core.lane()
	}
	res, err := backtest.Run(ctx, src, lanes[0], lanes[1], labels)
	if err != nil {
		return err
	}
	return res.Write(stdout)
}

// feedbackLabels reads the analysts' labels from the ClickHouse feedback
// table (every label given up to now; the latest of an event counts); nil
// when there are none.
func feedbackLabels(ctx context.Context, cfg Config) (eval.Labels, error) {
	dsn, err := cfg.ClickHouse.connString()
	if err != nil {
		return nil, err
	}
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	rows, err := w.FeedbackLabels(ctx, time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	fb := make([]backtest.Feedback, len(rows))
	for i, r := range rows {
		fb[i] = backtest.Feedback{EventID: r.EventID, Label: r.Label, Decision: r.Decision}
	}
	return backtest.LabelsFromFeedback(fb), nil
}

// backtestSource opens the events: the NDJSON file, or the history
// between from and to.
func backtestSource(ctx context.Context, cfg Config, events, from, to string, stdin io.Reader, stderr io.Writer) (offline.Source, func(), error) {
	if events != "" {
		in, closeIn, err := openInput(events, stdin)
		if err != nil {
			return nil, nil, err
		}
		return offline.NewNDJSON(in, stderr), closeIn, nil
	}
	if cfg.ClickHouse.DSN == "" {
		return nil, nil, errors.New("--from reads the ClickHouse history: --clickhouse-dsn (or LOGINRISK_CLICKHOUSE_DSN) is required")
	}
	now := time.Now()
	start, err := chschema.ParseTime(from, now)
	if err != nil {
		return nil, nil, fmt.Errorf("--from: %w", err)
	}
	end, err := chschema.ParseTime(to, now)
	if err != nil {
		return nil, nil, fmt.Errorf("--to: %w", err)
	}
	dsn, err := cfg.ClickHouse.connString()
	if err != nil {
		return nil, nil, err
	}
	w, err := history.New(history.Config{DSN: dsn})
	if err != nil {
		return nil, nil, err
	}
	r, err := w.ReadEvents(ctx, start, end)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return r, func() {
		r.Close()
		w.Close()
		if r.Rejected > 0 {
			fmt.Fprintf(stderr, "backtest: %d stored events were refused by today's validation\n", r.Rejected)
		}
	}, nil
}
