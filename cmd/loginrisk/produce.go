package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/engine/loadgen"
)

// cmdProduce publishes NDJSON events to the events topic keyed by user_id,
// as a gateway would.
func cmdProduce(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCommand("produce", stderr)
	events := fs.eventsFlag(true)
	topic := fs.String("topic", "", "topic to publish to (default: kafka.events_topic)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events == "" {
		fmt.Fprintln(stderr, "loginrisk produce: --events is required")
		return exitCode(2)
	}
	cfg, err := fs.config(needKafka)
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
	k, err := kafkaClients(cfg)
	if err != nil {
		return err
	}
	p := loadgen.NewEventWriter(k, *topic)
	defer p.Close()
	// The gateway's partitioner, which the instances look owners up with.
	if p.Balancer, err = kafkastream.NewBalancer(cfg.Kafka.Partitioner); err != nil {
		return err
	}
	bar := loadgen.NewProgress(stderr, "produce", total)
	n, _, err := loadgen.ProduceLines(ctx, p, in, bar.Update)
	bar.Done(fmt.Sprintf("%d events published to %s", n, *topic))
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
