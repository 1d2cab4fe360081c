package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
)

// TestAttackModeEndpointAndMetrics: an hour of ordinary logins teaches the
// baseline, then sixty failures in five minutes on accounts with no
// success turn attack mode on; GET /v1/attack-mode and the /metrics gauges
// say so.
func TestAttackModeEndpointAndMetrics(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	status := func() engine.AttackModeStatus {
		t.Helper()
		resp := f.do(request{method: "GET", path: "/v1/attack-mode", token: readToken})
		if resp.code != 200 {
			t.Fatalf("attack mode: %d %s", resp.code, resp.body)
		}
		var st engine.AttackModeStatus
		if err := json.Unmarshal(resp.body, &st); err != nil {
			t.Fatalf("decoding %s: %v", resp.body, err)
		}
		return st
	}
	gauge := func(want string) {
		t.Helper()
		resp := f.do(request{method: "GET", path: "/metrics", token: readToken})
		if !strings.Contains(string(resp.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	base := testNow.Add(-2 * time.Hour)
	for i := range 60 {
		outcome := "success"
		if i%30 == 0 {
			outcome = "failure"
		}
		f.score(event{id: fmt.Sprintf("am-base-%d", i), user: fmt.Sprintf("user%d@example.com", i), ip: fmt.Sprintf("198.51.100.%d", 1+i), outcome: outcome, at: base.Add(time.Duration(i) * time.Minute)}, false)
	}
	if st := status(); st.On || st.Learning != true {
		t.Errorf("after the first hour: %+v, want off and still learning (the hour is not closed yet)", st)
	}
	gauge("loginrisk_attack_mode 0\n")
	burst := base.Add(time.Hour)
	for i := range 60 {
		f.score(event{id: fmt.Sprintf("am-burst-%d", i), user: fmt.Sprintf("victim%d@example.com", i), ip: fmt.Sprintf("203.0.113.%d", 1+i), outcome: "failure", at: burst.Add(time.Duration(i) * 5 * time.Second)}, false)
	}
	st := status()
	if !st.On || st.Learning || st.Failures15m != 60 || st.Since.IsZero() {
		t.Errorf("after the burst: %+v, want on with 60 failures in 15 min", st)
	}
	gauge("loginrisk_attack_mode 1\n")
	gauge("loginrisk_platform_failures_15m 60\n")
}
