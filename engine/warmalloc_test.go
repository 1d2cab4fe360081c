package engine_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestPipelineWarmPathAllocations holds the engine core to its
// allocations per event on the warm path (issue 21 point 4): decoding,
// scoring and encoding, as replay and the Kafka worker do, with GeoIP on,
// an event of a known user from its usual address, device and browser
// (allowed), and an attacker's attempt that an active lock refuses. What
// remains is kept after the event by the dedupe table: the decision with
// room for its reasons and its lock (one allocation), the string the
// decoder cuts event_id, user_id, ip, device_id and tenant_id from (the
// decision's ids), and, where a matched rule's detail is computed from
// the features, the string of those details. The user agent is interned
// (schemas.Decoder), the refusing lock's public form and detail are the
// lock table's (made once per lock), the state, caches and scratch space
// reused. A new allocation here fails the test;
// docs/features-performance.md ("Allocations per event") lists them.
func TestPipelineWarmPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	const agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	tests := []struct {
		name  string
		event schemas.LoginEvent // event_id and occurred_at set per event
		gap   time.Duration      // between events
		want  schemas.Verdict
		// allocs per event: the decision (with its reasons and lock),
		// the ids' string, and for the refused attempt the details of
		// its matched rules.
		allocs float64
	}{
		{"allowed", schemas.LoginEvent{UserID: "alice@example.com", Outcome: schemas.OutcomeSuccess, IP: "81.2.69.160",
			UserAgent: agent, DeviceID: "dev-alice-laptop", AuthMethod: "password"}, time.Minute, schemas.VerdictAllow, 2},
		{"refused by a lock", schemas.LoginEvent{UserID: "bob@example.com", Outcome: schemas.OutcomeFailure, IP: "185.220.101.4",
			UserAgent: agent, FailureReason: "bad_password", AuthMethod: "password"}, time.Second, schemas.VerdictLockout, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, _ := testkit.Engine(t, "", engine.Config{Enricher: testkit.Enricher(t)})
			const warm, runs = 300, 200
			raw := make([][]byte, warm+runs+1) // AllocsPerRun runs once more
			at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			for i := range raw {
				ev := tt.event
				ev.EventID, ev.OccurredAt = fmt.Sprintf("warm-%d", i), at.Add(time.Duration(i)*tt.gap)
				var err error
				if raw[i], err = json.Marshal(&ev); err != nil {
					t.Fatal(err)
				}
			}
			dec := schemas.NewDecoder()
			var ev schemas.LoginEvent
			var f schemas.Features
			buf := make([]byte, 0, 1024)
			next := 0
			step := func() {
				if err := dec.Decode(raw[next], &ev); err != nil {
					t.Fatal(err)
				}
				next++
				s, err := eng.ScoreInto(&ev, &f, false)
				if err != nil {
					t.Fatal(err)
				}
				if next > warm && s.Decision.Decision != tt.want {
					t.Fatalf("event %d: %s %v, want %s", next, s.Decision.Decision, s.Decision.Reasons, tt.want)
				}
				buf, _ = schemas.EncodeDecision(buf[:0], s.Decision)
			}
			for range warm {
				step() // the windows and sets reach the size they keep
			}
			if got := testing.AllocsPerRun(runs, step); got != tt.allocs {
				t.Errorf("%v allocations per warm event, want %v", got, tt.allocs)
			}
		})
	}
}
