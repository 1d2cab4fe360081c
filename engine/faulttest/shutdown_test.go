package faulttest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM to serve under load (a stream of
// 20 000 events still being produced): it exits 0 within 30 s, and every
// events message below the group's committed offset has its decision
// published and its history stored — the rest is left for redelivery. A
// new serve then finishes the stream and every event ends up decided and
// stored once, redelivered events with their first decision.
func TestGracefulShutdown(t *testing.T) {
	svc, seed := startFaultTest(t)
	const n, rate = 20_000, 1000 // a 20 s stream
	f := newFixture(t, svc.brokers, svc.dsn, serveConfig{})
	es := generateEvents(t, n, seed)

	p := f.startServe()
	pp := f.startPaced(es, rate)
	f.waitCommitted(p, n/4, 100*time.Millisecond)
	code, took := p.terminate(30 * time.Second)
	t.Logf("SIGTERM with %d of %d events produced: exit code %d after %s", pp.produced.Load(), n, code, took.Round(time.Millisecond))
	if code != 0 {
		t.Errorf("serve exited with %d after SIGTERM; want 0", code)
	}
	if _, err := f.lastLine(`msg="loginrisk stopped cleanly"`); err != nil {
		t.Error(`serve did not log "loginrisk stopped cleanly"`)
	}

	// What the stopped serve left: committed offsets, decisions, history.
	ctx := f.ctx(2 * time.Minute)
	committed, err := f.committed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events, err := f.readTopic(ctx, f.eventsTopic)
	if err != nil {
		t.Fatal(err)
	}
	decisions, err := f.readTopic(ctx, f.decisionsTopic)
	if err != nil {
		t.Fatal(err)
	}
	decided := map[string]bool{}
	for _, m := range decisions {
		var d struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatal(err)
		}
		decided[d.EventID] = true
	}
	stored, err := f.historyIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var below, beyond, beyondRecorded int
	var lost []string
	for _, m := range events {
		var ev struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Offset < committed[m.Partition] {
			below++
			if !decided[ev.EventID] || !stored[ev.EventID] {
				lost = append(lost, fmt.Sprintf("%s at %d/%d (decision %v, history %v)", ev.EventID, m.Partition, m.Offset, decided[ev.EventID], stored[ev.EventID]))
			}
			continue
		}
		beyond++
		if decided[ev.EventID] || stored[ev.EventID] {
			beyondRecorded++
		}
	}
	t.Logf("after SIGTERM: %d events messages, %d below the committed offsets %v, %d beyond them (left for redelivery; %d of those already recorded); %d decisions published, %d events stored",
		len(events), below, committed, beyond, beyondRecorded, len(decisions), len(stored))
	if len(lost) > 0 {
		t.Errorf("%d committed events without their decision or history row, e.g. %v", len(lost), first(lost, 5))
	}
	if below == 0 || beyond == 0 {
		t.Errorf("SIGTERM did not come mid-stream (%d committed, %d not): the test proved nothing", below, beyond)
	}

	p = f.startServe()
	pp.wait(t)
	f.waitComplete(p, n, 3*time.Minute)
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Errorf("serve exited with %d after the second SIGTERM (took %s)", code, took)
	}
	f.logWarmUps()
	f.checkComplete(es)
}
