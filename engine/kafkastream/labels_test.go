package kafkastream

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// blockingProcessor blocks in Prepare until ctx ends, after saying so
// once on prepared.
type blockingProcessor struct {
	ctx      context.Context
	prepared chan struct{}
}

func (p *blockingProcessor) Prepare([]engine.Message) *engine.Batch {
	select {
	case p.prepared <- struct{}{}:
	default:
	}
	<-p.ctx.Done()
	return &engine.Batch{}
}

func (p *blockingProcessor) Record(context.Context, *engine.Batch) error { return nil }

// TestProfileLabels: the goroutines of the consumer (its partition
// worker, fetcher and recorder) and of the decisions
// follower carry the ProfileLabel their part names, so that a CPU
// profile of serve splits the Kafka path by part.
func TestProfileLabels(t *testing.T) {
	ctx, cfg := followTestConfig(t)
	cfg.GroupID = testkit.Name("group")
	s := newStreamWithTopics(ctx, t, cfg)
	w := s.clients.Writer(cfg.EventsTopic, WriterOptions{BatchSize: 1, BatchTimeout: time.Millisecond})
	defer w.Close()
	testkit.Produce(ctx, t, w, kafka.Message{Key: []byte("alice"), Value: []byte(`{}`)})

	runCtx, stop := context.WithCancel(ctx)
	proc := &blockingProcessor{ctx: runCtx, prepared: make(chan struct{}, 1)}
	done := make(chan struct{}, 2)
	go func() { _ = s.Run(runCtx, proc); done <- struct{}{} }()
	go func() {
		_ = s.FollowDecisions(runCtx, time.Now(), func(*schemas.Decision) error { return nil })
		done <- struct{}{}
	}()
	defer func() { stop(); <-done; <-done }()
	select {
	case <-proc.prepared:
	case <-ctx.Done():
		t.Fatal("no batch prepared")
	}

	want := []string{"consume", "fetch", "record", "follow decisions"}
	var profile bytes.Buffer
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		profile.Reset()
		if err := pprof.Lookup("goroutine").WriteTo(&profile, 1); err != nil {
			t.Fatal(err)
		}
		missing := []string{}
		for _, part := range want {
			if !strings.Contains(profile.String(), `"`+ProfileLabel+`":"`+part+`"`) {
				missing = append(missing, part)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine labelled %s=%q in:\n%s", ProfileLabel, missing, profile.String())
		}
	}
}
