package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// cmdProduce publishes NDJSON events to the events topic keyed by user_id,
// as a gateway would.
func cmdProduce(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("produce", stderr)
	var cf commonFlags
	cf.register(fs)
	events := fs.String("events", "", "NDJSON `file` of LoginEvents, or - for standard input (required)")
	topic := fs.String("topic", "", "topic to publish to (default: kafka.events_topic)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events == "" {
		fmt.Fprintln(stderr, "loginrisk produce: --events is required")
		return exitCode(2)
	}
	cfg, err := cf.configure(fs, stderr, needKafka)
	if err != nil {
		return err
	}
	if *topic == "" {
		*topic = cfg.Kafka.EventsTopic
	}
	if err := ensureEventsTopic(ctx, cfg, *topic, stderr); err != nil {
		return err
	}
	in, closeIn, err := openInput(*events, stdin)
	if err != nil {
		return err
	}
	defer closeIn()
	total := int64(-1)
	if f, ok := in.(*os.File); ok && *events != "-" {
		if st, err := f.Stat(); err == nil {
			total = st.Size()
		}
	}
	p := newEventWriter(cfg.Kafka.Brokers, *topic)
	defer p.Close()
	bar := newProgress(stderr, "produce", total)
	n, _, err := produceLines(ctx, p, in, bar.update)
	bar.done(fmt.Sprintf("%d events published to %s", n, *topic))
	return err
}

// ensureEventsTopic creates topic (as the events topic, with the
// decisions and dead-letter topics) the way serve does, when
// kafka.create_topics is on: a first run of produce then works before
// serve ever ran. Without it, a missing topic is an error that says how
// to fix it.
func ensureEventsTopic(ctx context.Context, cfg Config, topic string, stderr io.Writer) error {
	if !cfg.Kafka.CreateTopics {
		return nil
	}
	cfg.Kafka.EventsTopic = topic
	// This stream only creates topics; it never signs or reads a decision.
	if err := cfg.Kafka.withRunDecisionKey(); err != nil {
		return err
	}
	stream, err := newStream(cfg, newLogger(stderr, cfg.Log))
	if err != nil {
		return err
	}
	defer stream.Close()
	return stream.EnsureTopics(ctx)
}

// newEventWriter returns a writer that publishes to topic keyed by
// user_id with the Java client's partitioner, waiting for all replicas.
func newEventWriter(brokers []string, topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchSize:              1000,
		BatchBytes:             1 << 20,
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
}

// userIDOf extracts user_id for the message key without a full decode; a
// line without one is still published (the engine dead-letters it).
func userIDOf(line []byte) []byte {
	var probe struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal(line, &probe) == nil && probe.UserID != "" {
		return []byte(probe.UserID)
	}
	return nil
}

// produceLines publishes every non-empty line of in, in batches, and calls
// progress with the bytes read so far.
func produceLines(ctx context.Context, w *kafka.Writer, in io.Reader, progress func(events, bytes int64)) (int64, int64, error) {
	r := bufio.NewReaderSize(in, 1<<20)
	lines := offline.NewLineReader(r, 8<<20)
	batch := make([]kafka.Message, 0, 1000)
	var n, read int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			if errors.Is(err, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("publishing to %s: %w (create the topic, or set kafka.create_topics: true to let produce and serve create it)", w.Topic, err)
			}
			return fmt.Errorf("publishing to %s: %w", w.Topic, err)
		}
		n += int64(len(batch))
		batch = batch[:0]
		progress(n, read)
		return nil
	}
	for {
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, read, err
		}
		read += int64(len(line))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		value := bytes.Clone(line)
		batch = append(batch, kafka.Message{Key: userIDOf(value), Value: value})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, read, err
			}
		}
	}
	return n, read, flush()
}

// progress draws a one-line progress bar on a terminal. Into a file or a
// pipe (a CI log, `| tee`) it writes a plain line every
// progressPlainEvery instead of thousands of redraws.
type progress struct {
	w        io.Writer
	terminal bool
	label    string
	total    int64
	start    time.Time
	last     time.Time
}

// progressPlainEvery spaces the progress lines written to a non-terminal.
const progressPlainEvery = 5 * time.Second

func newProgress(w io.Writer, label string, total int64) *progress {
	now := time.Now()
	return &progress{w: w, terminal: isTerminal(w), label: label, total: total, start: now, last: now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update redraws at most ten times a second on a terminal, and writes a
// line every progressPlainEvery elsewhere.
func (p *progress) update(events, bytes int64) {
	now := time.Now()
	every := 100 * time.Millisecond
	if !p.terminal {
		every = progressPlainEvery
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	rate := float64(events) / max(now.Sub(p.start).Seconds(), 1e-3)
	start, end := "\r", ""
	if !p.terminal {
		start, end = "", "\n"
	}
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		const width = 30
		filled := int(frac * width)
		fmt.Fprintf(p.w, "%s%s [%s%s] %3.0f%% %d events %.0f/s%s", start, p.label,
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, events, rate, end)
		return
	}
	fmt.Fprintf(p.w, "%s%s %d events %.0f/s%s", start, p.label, events, rate, end)
}

// done ends the bar with msg and the time taken; an empty msg only erases
// the bar (a stage that failed says why elsewhere).
func (p *progress) done(msg string) {
	erase := "\r\033[K"
	if !p.terminal {
		erase = ""
	}
	if msg == "" {
		fmt.Fprint(p.w, erase)
		return
	}
	fmt.Fprintf(p.w, "%s%s (%.1fs)\n", erase, msg, time.Since(p.start).Seconds())
}

// encodeEvent writes one event as a JSON line.
func encodeEvent(buf []byte, ev *schemas.LoginEvent) []byte {
	b, _ := json.Marshal(ev)
	buf = append(buf, b...)
	return append(buf, '\n')
}
