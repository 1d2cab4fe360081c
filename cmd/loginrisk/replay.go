package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// cmdReplay scores NDJSON events offline through the same engine, without
// Kafka, and writes one decision per valid event in input order. Event time
// drives everything, so the same input gives byte-identical output.
func cmdReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var cf commonFlags
	cf.register(fs)
	events := fs.String("events", "", "NDJSON `file` of LoginEvents, or - for standard input (required)")
	out := fs.String("out", "-", "`file` for the NDJSON decisions, or - for standard output")
	quiet := fs.Bool("quiet", false, "do not print the summary on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events == "" {
		fmt.Fprintln(stderr, "loginrisk replay: --events is required")
		fs.Usage()
		return exitCode(2)
	}
	cfg, err := cf.configure(fs, stderr, false)
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
	// Replay's stderr is for its report: library logs only from warn on,
	// unless --log-level asks for more.
	logCfg := cfg.Log
	if cf.logLevel == "" {
		logCfg.Level = "warn"
	}
	c, err := buildCore(cfg, newLogger(stderr, logCfg), nil, engine.Recorder{}, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stats, err := replay(ctx, c.engine, c.store, in, w, stderr)
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

// sweeper is the part of the state that replay sweeps by event time.
type sweeper interface{ Sweep(now time.Time) int }

// replay reads NDJSON events from in and writes decisions to out. Invalid
// lines are reported on errw with their line number and skipped.
func replay(ctx context.Context, eng *engine.Engine, state sweeper, in io.Reader, out io.Writer, errw io.Writer) (replayStats, error) {
	var st replayStats
	r := bufio.NewReaderSize(in, 1<<20)
	bw := bufio.NewWriterSize(out, 1<<20)
	var buf []byte
	var ev schemas.LoginEvent
	var f schemas.Features
	var newest time.Time
	lines := newLineReader(r, schemas.MaxEventBytes)
	for lineNo := 1; ; lineNo++ {
		line, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			st.invalid++
			fmt.Fprintf(errw, "line %d: message is more than %d bytes\n", lineNo, schemas.MaxEventBytes)
			continue
		}
		if err != nil {
			return st, fmt.Errorf("reading events: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if lineNo%65536 == 0 && ctx.Err() != nil {
			return st, ctx.Err()
		}
		if err := schemas.Decode(line, &ev); err != nil {
			st.invalid++
			fmt.Fprintf(errw, "line %d: %v\n", lineNo, err)
			continue
		}
		// ScoreInto keeps neither the event nor the features: both are
		// reused for the next line.
		scored, err := eng.ScoreInto(&ev, &f, false)
		if err != nil {
			st.invalid++
			fmt.Fprintf(errw, "line %d: %v\n", lineNo, err)
			continue
		}
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
			return st, fmt.Errorf("writing decisions: %w", err)
		}
		if ev.OccurredAt.After(newest) {
			newest = ev.OccurredAt
		}
		if st.events%200_000 == 0 {
			state.Sweep(newest)
			eng.Locks().Sweep(newest, 48*time.Hour)
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("writing decisions: %w", err)
	}
	return st, nil
}

var errLineTooLong = errors.New("line too long")

// lineReader yields lines of at most max bytes; a longer line is skipped
// whole and reported as errLineTooLong, so one bad line never stops a
// replay.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r *bufio.Reader, max int) *lineReader { return &lineReader{r: r, max: max} }

func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+1 {
				tooLong = true
				l.buf = l.buf[:0]
			} else if err == nil && len(l.buf) == 0 {
				return chunk, nil // the common case: no copy
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, errLineTooLong
			}
			return l.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, errLineTooLong
			}
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
			return l.buf, nil
		default:
			return nil, err
		}
	}
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
