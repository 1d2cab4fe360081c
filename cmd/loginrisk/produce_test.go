package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
)

// TestProduceCreatesTopic is issue 17.4: produce into a topic that does
// not exist yet creates it the way serve does (with kafka.partitions
// partitions) and publishes every event, on a real broker; with
// kafka.create_topics off it fails with one line that says the fix.
func TestProduceCreatesTopic(t *testing.T) {
	ctx, brokers, _ := testkit.KafkaContext(t, 2*time.Minute)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 15 * time.Second}
	var lines strings.Builder
	for i := range 20 {
		fmt.Fprintf(&lines, `{"event_id":"p-%d","occurred_at":"2026-03-02T09:00:00Z","user_id":"u%d","outcome":"success","ip":"198.51.100.%d"}`+"\n", i, i, i+1)
	}
	events := writeFile(t, "events.ndjson", lines.String())
	config := func(name string, create bool) string {
		return writeFile(t, name+".yaml", fmt.Sprintf("kafka:\n  brokers: [%s]\n  events_topic: %s-events\n  decisions_topic: %s-decisions\n  dlq_topic: %s-dlq\n  partitions: 3\n  create_topics: %v\n",
			strings.Join(brokers, ", "), name, name, name, create))
	}
	// partitions asks the broker for a topic's partitions until it
	// answers without error (a topic just created may be reported before
	// its partitions have leaders) or 15 s have passed; 0 then, with the
	// last error logged.
	partitions := func(topic string) int {
		var last error
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
			switch {
			case err != nil:
				last = err
			case len(md.Topics) != 1:
				last = fmt.Errorf("%d topics in the answer", len(md.Topics))
			case md.Topics[0].Error != nil:
				last = md.Topics[0].Error
			default:
				return len(md.Topics[0].Partitions)
			}
		}
		t.Logf("metadata of %s: %v", topic, last)
		return 0
	}

	name := testkit.Name("produce")
	deleteTopicsAtEnd(t, client, name)
	_, stderr, code := runCLI(t, "", "produce", "--config", config(name, true), "--events", events)
	if code != 0 || !strings.Contains(stderr, "20 events published to "+name+"-events") {
		t.Fatalf("produce into a new topic: exit %d\n%s", code, stderr)
	}
	for _, topic := range topicsOf(name) {
		if got := partitions(topic); got != 3 {
			t.Errorf("topic %s has %d partitions, want 3 (kafka.partitions)", topic, got)
		}
	}

	off := testkit.Name("produce-off")
	_, stderr, code = runCLI(t, "", "produce", "--config", config(off, false), "--events", events)
	if code == 0 || !strings.Contains(stderr, "create_topics: true") {
		t.Errorf("produce into a missing topic without create_topics: exit %d, want a failure naming the fix:\n%s", code, stderr)
	}
}
