package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// cmdReplay scores NDJSON events offline through the same engine, without
// Kafka, and writes one decision per valid event in input order. Event time
// drives everything, so the same input gives byte-identical output.
func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("replay", stderr)
	events := fs.eventsFlag(true)
	out := fs.String("out", "-", "`file` for the NDJSON decisions, or - for standard output")
	quiet := fs.Bool("quiet", false, "do not print the summary on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events == "" {
		return fs.usageError("--events is required")
	}
	cfg, err := fs.config(0)
	if err != nil {
		return err
	}
	in, closeIn, err := openInput(*events, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	w, closeOut, err := openOutput(*out, stdout)
	if err != nil {
		return err
	}
	c, err := buildOffline(cfg, newLogger(stderr, fs.quietLog(cfg.Log)))
	if err != nil {
		return err
	}
	defer c.Close()
	stats, err := replay(ctx, c.lane(), in, w, stderr)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "replayed %d events: %d allow, %d challenge, %d lockout; %d duplicates, %d invalid lines\n",
			stats.events, stats.allow, stats.challenge, stats.lockout, stats.duplicates, stats.invalid)
	}
	return nil
}

type replayStats struct {
	events, allow, challenge, lockout, duplicates, invalid int
}

// replay reads NDJSON events from in and writes decisions to out. Invalid
// lines are reported on errw with their line number and skipped.
func replay(ctx context.Context, lane offline.Lane, in io.Reader, out io.Writer, errw io.Writer) (replayStats, error) {
	var st replayStats
	bw := bufio.NewWriterSize(out, 1<<20)
	var buf []byte
	src := offline.NewNDJSON(in, errw)
	_, err := offline.Run(ctx, src, []offline.Lane{lane}, func(_ *schemas.LoginEvent, outcomes []engine.Scored) error {
		scored := outcomes[0]
		st.events++
		if scored.Duplicate {
			st.duplicates++
		}
		switch scored.Decision.Decision {
		case schemas.VerdictAllow:
			st.allow++
		case schemas.VerdictChallenge:
			st.challenge++
		case schemas.VerdictLockout:
			st.lockout++
		}
		buf, _ = schemas.EncodeDecision(buf[:0], scored.Decision)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("writing decisions: %w", err)
		}
		return nil
	})
	st.invalid = src.Invalid
	if err != nil {
		return st, err
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("writing decisions: %w", err)
	}
	return st, nil
}

func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	if name == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func openOutput(name string, stdout io.Writer) (io.Writer, func() error, error) {
	if name == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
