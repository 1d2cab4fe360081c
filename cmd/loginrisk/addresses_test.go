package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

var (
	appliedLine    = regexp.MustCompile(`(?m)^loginrisk_addresses_applied_total (\d+)`)
	generationLine = regexp.MustCompile(`kafka generation started.* generation=(\d+) partitions="?\[([^\]]*)\]`)
)

// sameGeneration reports whether the instances' last consumer group
// generations are the same one, with partitions for each.
func sameGeneration(instances []*runningServe) bool {
	last := ""
	for i, s := range instances {
		all := generationLine.FindAllStringSubmatch(s.out.String(), -1)
		if len(all) == 0 || strings.TrimSpace(all[len(all)-1][2]) == "" {
			return false
		}
		gen := all[len(all)-1][1]
		if i > 0 && gen != last {
			return false
		}
		last = gen
	}
	return true
}

// TestServeSharesAddresses runs two serve instances in one group: each
// scores the attempts of its own partitions and, sharing addresses by
// default, counts the other's in its address state, which its metrics
// show. Together they count every attempt of the run that the other
// scored.
func TestServeSharesAddresses(t *testing.T) {
	brokers, _ := testkit.Kafka(t)
	name := testkit.Name("share")
	extra := "http: {metrics_addr: 127.0.0.1:0, metrics_auth: none}\n"
	instances := []*runningServe{startServeNamed(t, name, extra), startServeNamed(t, name, extra)}
	metrics := make([]string, len(instances))
	for i, s := range instances {
		m := metricsLine.FindStringSubmatch(s.out.String())
		if m == nil {
			t.Fatalf("serve does not say where the metrics are:\n%s", s.out)
		}
		metrics[i] = m[1]
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Both in the same generation with partitions of their own, so that
	// no rebalance moves a partition (and scores an attempt twice) while
	// the run is consumed.
	for !sameGeneration(instances) {
		if ctx.Err() != nil {
			t.Fatalf("the group did not settle:\n%s\n%s", instances[0].out, instances[1].out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: name + "-events", Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	const attempts = 60
	var msgs []kafka.Message
	for i := range attempts {
		ev := schemas.LoginEvent{EventID: fmt.Sprintf("share-%d", i), OccurredAt: time.Now().UTC().Truncate(time.Second), UserID: fmt.Sprintf("user-%d", i),
			Outcome: schemas.OutcomeFailure, FailureReason: "bad_password", IP: "198.51.100.23"}
		value, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(ev.UserID), Value: value})
	}
	testkit.Produce(ctx, t, w, msgs...)

	// Until the group settles, one instance may score everything; once
	// every attempt is scored, the two have applied, between them, every
	// attempt the other scored: all of them.
	applied := func() (total int) {
		for _, m := range metrics {
			_, body := httpGet(t, m+"/metrics", "")
			if g := appliedLine.FindStringSubmatch(body); g != nil {
				n, _ := strconv.Atoi(g[1])
				total += n
			}
		}
		return total
	}
	for applied() < attempts {
		if ctx.Err() != nil {
			t.Fatalf("the instances applied %d of the other's attempts in all, want %d", applied(), attempts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := applied(); got != attempts {
		t.Errorf("the instances applied %d of the other's attempts in all, want %d (each once)", got, attempts)
	}
	for i, s := range instances {
		if !strings.Contains(s.out.String(), "following shared addresses") {
			t.Errorf("instance %d does not follow the shared addresses:\n%s", i, s.out)
		}
	}
}
