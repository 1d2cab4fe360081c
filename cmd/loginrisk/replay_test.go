package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/schemas"
)

// writeTraffic writes n generated events as NDJSON, one second of event
// time per 200 events.
func writeTraffic(t *testing.T, n int) string {
	t.Helper()
	var buf bytes.Buffer
	g := loadgen.New(loadgen.Config{Users: 500, Seed: 42})
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var line []byte
	for i := range n {
		ev := g.Next(at.Add(time.Duration(i) * 5 * time.Millisecond))
		line = loadgen.EncodeEvent(line[:0], &ev)
		buf.Write(line)
	}
	// Two bad lines: they are reported, not fatal.
	buf.WriteString(`{"event_id":"bad-1","occurred_at":"2026-03-02T09:00:00Z","user_id":"x","outcome":"failure","ip":"999.1.1.1"}` + "\n")
	buf.WriteString("not json\n")
	return writeFile(t, "events.ndjson", buf.String())
}

func TestReplayIsDeterministic(t *testing.T) {
	events := writeTraffic(t, 20000)
	geo := existingDemoGeoIP()
	args := []string{"replay", "--events", events, "--geoip-city", geo.CityPath, "--geoip-asn", geo.ASNPath, "--geoip-anonymous", geo.AnonymousPath}
	out1, err1, code1 := runCLI(t, "", args...)
	out2, _, code2 := runCLI(t, "", args...)
	if code1 != 0 || code2 != 0 {
		t.Fatalf("replay exited %d/%d: %s", code1, code2, err1)
	}
	if out1 != out2 {
		t.Fatal("two replays of the same file differ")
	}
	if n := strings.Count(out1, "\n"); n != 20000 {
		t.Errorf("%d decisions, want one per valid event (20000)", n)
	}
	for _, want := range []string{"line 20001: ip: \"999.1.1.1\" is not an IP address", "line 20002: malformed JSON", "2 invalid lines"} {
		if !strings.Contains(err1, want) {
			t.Errorf("stderr lacks %q:\n%s", want, err1)
		}
	}
	kinds := map[schemas.Verdict]int{}
	sc := bufio.NewScanner(strings.NewReader(out1))
	for sc.Scan() {
		var d schemas.Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("decision line %q: %v", sc.Text(), err)
		}
		kinds[d.Decision]++
	}
	for _, v := range []schemas.Verdict{schemas.VerdictAllow, schemas.VerdictChallenge, schemas.VerdictLockout} {
		if kinds[v] == 0 {
			t.Errorf("no %s decision in generated traffic: %v", v, kinds)
		}
	}
}

// scoreFixture replays a fixture through a core like `replay` builds and
// returns every scored event by event_id.
func scoreFixture(t *testing.T, name string, geo enrich.EnricherConfig) map[string]engine.Scored {
	t.Helper()
	cfg := defaultConfig()
	cfg.GeoIP = GeoIPConfig{geo}
	out := map[string]engine.Scored{}
	for _, s := range scoreFile(t, cfg, repoFile(filepath.Join("testdata", "fixtures", name))) {
		out[s.Event.EventID] = s
	}
	return out
}

// hasReason says whether rule is among the decision's reasons.
func hasReason(d *schemas.Decision, rule string) bool {
	return slices.ContainsFunc(d.Reasons, func(r schemas.Reason) bool { return r.Rule == rule })
}

func TestReplayFixtures(t *testing.T) {
	geo := existingDemoGeoIP()
	if geo.CityPath == "" {
		t.Fatal("testdata/geoip databases missing")
	}
	t.Run("impossible travel", func(t *testing.T) {
		got := scoreFixture(t, "travel.ndjson", geo)
		sf := got["travel-sf"]
		if sf.Features.TravelSpeedKmh <= 1000 || !hasReason(sf.Decision, "impossible_travel") {
			t.Errorf("London → San Francisco in an hour: %.0f km/h, reasons %+v; want > 1000 and impossible_travel", sf.Features.TravelSpeedKmh, sf.Decision.Reasons)
		}
		later := got["travel-london-later"]
		if later.Features.TravelSpeedKmh >= 1000 || hasReason(later.Decision, "impossible_travel") {
			t.Errorf("back in London two days later: %.0f km/h, reasons %+v; want < 1000", later.Features.TravelSpeedKmh, later.Decision.Reasons)
		}
	})
	t.Run("credential stuffing", func(t *testing.T) {
		got := scoreFixture(t, "stuffing.ndjson", geo)
		last := got["stuff-29"]
		if last.Features.IPDistinctUsers10m != 30 {
			t.Errorf("ip_distinct_users_10m = %d at the 30th account, want 30", last.Features.IPDistinctUsers10m)
		}
		if last.Decision.Lock == nil || last.Decision.Lock.Scope != schemas.ScopeIP {
			t.Errorf("stuffing ends with %s lock %+v, want an ip lock", last.Decision.Decision, last.Decision.Lock)
		}
	})
	t.Run("ipv6 rotation inside one /64", func(t *testing.T) {
		got := scoreFixture(t, "ipv6_rotation.ndjson", geo)
		last := got["v6-11"]
		if last.Features.IPDistinctUsers10m != 12 || last.Features.IPFailures10m != 12 {
			t.Errorf("rotating /64: distinct users %d, failures %d; want 12 and 12 (one source)", last.Features.IPDistinctUsers10m, last.Features.IPFailures10m)
		}
		if last.Features.Network != "2a0e:97c0:1a:7::/64" {
			t.Errorf("network %q, want the /64", last.Features.Network)
		}
	})
	t.Run("brute force locks user_ip, owner still allowed", func(t *testing.T) {
		got := scoreFixture(t, "bruteforce.ndjson", geo)
		for i := range 4 {
			if d := got[fmtID("alice-bf-", i)].Decision; d.Decision == schemas.VerdictLockout {
				t.Errorf("failure %d already locked out: %+v", i+1, d.Reasons)
			}
		}
		fifth := got["alice-bf-4"].Decision
		if fifth.Decision != schemas.VerdictLockout || fifth.Lock == nil || fifth.Lock.Scope != schemas.ScopeUserIP ||
			fifth.Lock.Until.Sub(fifth.OccurredAt) != 10*time.Minute {
			t.Fatalf("5th failure: %s lock %+v, want user_ip for 10m", fifth.Decision, fifth.Lock)
		}
		if d := got["alice-home-during-lock"].Decision; d.Decision != schemas.VerdictAllow {
			t.Errorf("alice from home during the lock: %s %+v, want allow", d.Decision, d.Reasons)
		}
	})
}

func fmtID(prefix string, i int) string { return prefix + string(rune('0'+i)) }

func TestReplayWithoutGeoIPScoresEverything(t *testing.T) {
	events := writeTraffic(t, 3000)
	out, stderr, code := runCLI(t, "", "replay", "--events", events)
	if code != 0 {
		t.Fatalf("replay without GeoIP exited %d: %s", code, stderr)
	}
	if n := strings.Count(out, "\n"); n != 3000 {
		t.Errorf("%d decisions without GeoIP, want 3000", n)
	}
}

func TestReplayStdinToStdout(t *testing.T) {
	in := `{"event_id":"a","occurred_at":"2026-03-02T09:00:00Z","user_id":"u","outcome":"success","ip":"81.2.69.160"}` + "\n"
	out, stderr, code := runCLI(t, in, "replay", "--events", "-", "--quiet")
	if code != 0 || !strings.HasPrefix(out, `{"event_id":"a",`) || stderr != "" {
		t.Errorf("replay from stdin: code %d out %q stderr %q", code, out, stderr)
	}
}
