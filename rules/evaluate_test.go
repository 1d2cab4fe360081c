package rules

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

var invalidAddr netip.Addr

// shippedSet is the shipped rule set (Default), failing tb if it does not load.
func shippedSet(tb testing.TB) *Set {
	tb.Helper()
	set, err := Default()
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

func mustLoadString(t testing.TB, yaml string) *Set {
	t.Helper()
	set, err := LoadFS(fstest.MapFS{"rules.yaml": {Data: []byte(yaml)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func ids(rules []*Rule) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		s[i] = r.ID
	}
	return strings.Join(s, " ")
}

func asEvalError(err error, target **EvalError) bool { return errors.As(err, target) }

const decisionOrderRules = `
policy:
  challenge_at: 30
  lockout_at: 70
  default_scope: user_ip
  lock_durations: [10m, 30m, 2h, 24h]
  allow: {users: [vip], cidrs: [10.0.0.0/8], asns: [64500]}
  deny: {users: [mallory], cidrs: [203.0.113.0/24, "2001:db8:bad::/48"], asns: [64666]}
rules:
  - {id: trusted_device, when: 'device_key == "trusted"', weight: -20, action: allow}
  - {id: lock_short, when: user_failures_15m >= 5, weight: 40, action: lockout, scope: user_ip, duration: 10m}
  - {id: lock_long, when: ip_distinct_users_10m >= 10, weight: 30, action: lockout, scope: ip, duration: 1h}
  - {id: lock_heavy, when: user_failures_1h >= 10, weight: 50, action: lockout, scope: user}
  - {id: step_up, when: success && user_failures_15m >= 3, weight: 10, action: challenge}
  - {id: city, when: new_city, weight: 30}
  - {id: travel, when: has_device_id && travel_km > 500, weight: 45, scope: device, duration: 2h}
  - {id: device, when: new_device, weight: 45}
  - {id: trust, when: user_successes_total > 100, weight: -40}
  - {id: shadow_lock, when: tor_exit, weight: 100, action: lockout, mode: shadow}
  - {id: big, when: hosting, weight: 80}
`

func TestDecisionOrder(t *testing.T) {
	set := mustLoadString(t, decisionOrderRules)
	tests := []struct {
		name      string
		f         schemas.Features
		addr      string
		verdict   schemas.Verdict
		by        DecidedBy
		rule      string // Result.Rule
		matched   string
		shadow    string
		score     int
		raw       int
		lock      LockRequest
		errorFree bool
	}{
		{name: "nothing matches", f: schemas.Features{UserID: "bob"},
			verdict: "allow", by: ByScore},
		{name: "allow-listed user still reports its rules", f: schemas.Features{UserID: "vip", UserFailures15m: 5},
			verdict: "allow", by: ByAllowlist, matched: "lock_short", score: 40, raw: 40},
		{name: "allow-listed CIDR", f: schemas.Features{UserID: "bob", Hosting: true}, addr: "10.1.2.3",
			verdict: "allow", by: ByAllowlist, matched: "big", score: 80, raw: 80},
		{name: "allow-listed CIDR from f.IP when addr is invalid", f: schemas.Features{UserID: "bob", IP: "10.9.9.9", Hosting: true},
			verdict: "allow", by: ByAllowlist, matched: "big", score: 80, raw: 80},
		{name: "allow-listed ASN", f: schemas.Features{UserID: "bob", ASN: 64500, Hosting: true},
			verdict: "allow", by: ByAllowlist, matched: "big", score: 80, raw: 80},
		{name: "allow list beats deny list", f: schemas.Features{UserID: "vip"}, addr: "203.0.113.5",
			verdict: "allow", by: ByAllowlist},
		{name: "rule allow beats deny list", f: schemas.Features{UserID: "mallory", DeviceKey: "trusted"},
			verdict: "allow", by: ByRuleAllow, rule: "trusted_device", matched: "trusted_device", raw: -20},
		{name: "rule allow beats forced lockout", f: schemas.Features{UserID: "bob", DeviceKey: "trusted", UserFailures15m: 5},
			verdict: "allow", by: ByRuleAllow, rule: "trusted_device", matched: "trusted_device lock_short", score: 20, raw: 20},
		{name: "denied user", f: schemas.Features{UserID: "mallory"},
			verdict: "lockout", by: ByDenylist, lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "policy.deny"}},
		{name: "deny list beats forced lockout", f: schemas.Features{UserID: "mallory", IPDistinctUsers10m: 10},
			verdict: "lockout", by: ByDenylist, matched: "lock_long", score: 30, raw: 30,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "policy.deny"}},
		{name: "denied CIDR", f: schemas.Features{UserID: "bob"}, addr: "203.0.113.9",
			verdict: "lockout", by: ByDenylist, lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "policy.deny"}},
		{name: "denied IPv6 CIDR", f: schemas.Features{UserID: "bob"}, addr: "2001:db8:bad::1",
			verdict: "lockout", by: ByDenylist, lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "policy.deny"}},
		{name: "denied ASN", f: schemas.Features{UserID: "bob", ASN: 64666},
			verdict: "lockout", by: ByDenylist, lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "policy.deny"}},
		{name: "forced lockout", f: schemas.Features{UserID: "bob", UserFailures15m: 5},
			verdict: "lockout", by: ByRuleLockout, rule: "lock_short", matched: "lock_short", score: 40, raw: 40,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "lock_short"}},
		{name: "longest forced lockout wins", f: schemas.Features{UserID: "bob", UserFailures15m: 5, IPDistinctUsers10m: 10},
			verdict: "lockout", by: ByRuleLockout, rule: "lock_long", matched: "lock_short lock_long", score: 70, raw: 70,
			lock: LockRequest{Scope: "ip", Base: time.Hour, Rule: "lock_long"}},
		{name: "equal durations: heaviest forced lockout wins, default duration is the first rung",
			f:       schemas.Features{UserID: "bob", UserFailures15m: 5, UserFailures1h: 10},
			verdict: "lockout", by: ByRuleLockout, rule: "lock_heavy", matched: "lock_short lock_heavy", score: 90, raw: 90,
			lock: LockRequest{Scope: "user", Base: 10 * time.Minute, Rule: "lock_heavy"}},
		{name: "forced lockout beats forced challenge", f: schemas.Features{UserID: "bob", Success: true, UserFailures15m: 5},
			verdict: "lockout", by: ByRuleLockout, rule: "lock_short", matched: "lock_short step_up", score: 50, raw: 50,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "lock_short"}},
		{name: "forced challenge beats score lockout", f: schemas.Features{UserID: "bob", Success: true, UserFailures15m: 3, Hosting: true},
			verdict: "challenge", by: ByRuleChallenge, rule: "step_up", matched: "step_up big", score: 90, raw: 90},
		{name: "score lockout uses the default scope and rule score", f: schemas.Features{UserID: "bob", Hosting: true},
			verdict: "lockout", by: ByScoreLockout, matched: "big", score: 80, raw: 80,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "score"}},
		{name: "score lockout takes scope and duration of the heaviest rule (first on ties)",
			f:       schemas.Features{UserID: "bob", HasDeviceID: true, TravelKm: 600, NewDevice: true},
			verdict: "lockout", by: ByScoreLockout, matched: "travel device", score: 90, raw: 90,
			lock: LockRequest{Scope: "device", Base: 2 * time.Hour, Rule: "score"}},
		{name: "score exactly lockout_at locks out", f: schemas.Features{UserID: "bob", Hosting: true, UserSuccessesTotal: 101, NewCity: true},
			verdict: "lockout", by: ByScoreLockout, matched: "city trust big", score: 70, raw: 70,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "score"}},
		{name: "score exactly challenge_at challenges", f: schemas.Features{UserID: "bob", NewCity: true},
			verdict: "challenge", by: ByScoreChallenge, matched: "city", score: 30, raw: 30},
		{name: "score is clamped at 100", f: schemas.Features{UserID: "bob", Hosting: true, HasDeviceID: true, TravelKm: 600},
			verdict: "lockout", by: ByScoreLockout, matched: "travel big", score: 100, raw: 125,
			lock: LockRequest{Scope: "user_ip", Base: 10 * time.Minute, Rule: "score"}},
		{name: "score is clamped at 0", f: schemas.Features{UserID: "bob", UserSuccessesTotal: 500},
			verdict: "allow", by: ByScore, matched: "trust", score: 0, raw: -40},
		{name: "trust signal cancels a challenge", f: schemas.Features{UserID: "bob", UserSuccessesTotal: 500, NewCity: true},
			verdict: "allow", by: ByScore, matched: "city trust", score: 0, raw: -10},
		{name: "shadow rule is reported and changes nothing", f: schemas.Features{UserID: "bob", TorExit: true},
			verdict: "allow", by: ByScore, shadow: "shadow_lock"},
		{name: "shadow rule next to an active one", f: schemas.Features{UserID: "bob", TorExit: true, NewCity: true},
			verdict: "challenge", by: ByScoreChallenge, matched: "city", shadow: "shadow_lock", score: 30, raw: 30},
	}
	var res Result // reused across cases, as workers do
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := invalidAddr
			if tt.addr != "" {
				addr = netip.MustParseAddr(tt.addr)
			}
			set.Evaluate(&tt.f, addr, &res)
			ruleID := ""
			if res.Rule != nil {
				ruleID = res.Rule.ID
			}
			if res.Verdict != tt.verdict || res.DecidedBy != tt.by || ruleID != tt.rule {
				t.Errorf("verdict %s by %s rule %q, want %s by %s rule %q", res.Verdict, res.DecidedBy, ruleID, tt.verdict, tt.by, tt.rule)
			}
			if got := ids(res.Matched); got != tt.matched {
				t.Errorf("matched %q, want %q", got, tt.matched)
			}
			if got := ids(res.Shadow); got != tt.shadow {
				t.Errorf("shadow %q, want %q", got, tt.shadow)
			}
			if res.Score != tt.score || res.RawScore != tt.raw {
				t.Errorf("score %d raw %d, want %d raw %d", res.Score, res.RawScore, tt.score, tt.raw)
			}
			if res.Lock != tt.lock {
				t.Errorf("lock %+v, want %+v", res.Lock, tt.lock)
			}
			if res.Errors != 0 {
				t.Errorf("errors %d: %v", res.Errors, res.Err)
			}
		})
	}
}

// TestShadowNeverChangesOutcome turns every rule of the default set into a
// shadow rule and checks that no scenario's verdict or score moves off
// "nothing matched", while the shadow list carries what would have matched.
func TestShadowNeverChangesOutcome(t *testing.T) {
	active := shippedSet(t)
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, r := range active.Rules() {
		b.WriteString("  - id: " + r.ID + "\n    weight: " + strconv.Itoa(r.Weight) + "\n    mode: shadow\n    when: '" + r.When + "'\n")
		if r.Action != "" {
			b.WriteString("    action: " + string(r.Action) + "\n")
		}
	}
	shadow := mustLoadString(t, b.String())
	var a, s Result
	for _, sc := range scenarios {
		active.Evaluate(&sc.features, sc.addr(), &a)
		shadow.Evaluate(&sc.features, sc.addr(), &s)
		if s.Verdict != schemas.VerdictAllow || s.Score != 0 || len(s.Matched) != 0 {
			t.Errorf("%s: shadow-only set gave %s score %d matched %q", sc.name, s.Verdict, s.Score, ids(s.Matched))
		}
		if want := ids(append(append([]*Rule{}, a.Matched...), a.Shadow...)); !sameIDs(ids(s.Shadow), want) {
			t.Errorf("%s: shadow hits %q, want %q", sc.name, ids(s.Shadow), want)
		}
	}
}

func sameIDs(a, b string) bool {
	as, bs := strings.Fields(a), strings.Fields(b)
	if len(as) != len(bs) {
		return false
	}
	seen := map[string]int{}
	for _, x := range as {
		seen[x]++
	}
	for _, x := range bs {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestLockDuration(t *testing.T) {
	p := DefaultPolicy() // [10m 30m 2h 24h]
	m, h := time.Minute, time.Hour
	tests := []struct {
		name  string
		base  time.Duration
		prior int
		want  time.Duration
	}{
		{"no base, first offence", 0, 0, 10 * m},
		{"no base, second offence", 0, 1, 30 * m},
		{"no base, third offence", 0, 2, 2 * h},
		{"no base, fourth offence", 0, 3, 24 * h},
		{"no base, capped", 0, 10, 24 * h},
		{"negative prior counts as none", 0, -3, 10 * m},
		{"base on a rung", 30 * m, 0, 30 * m},
		{"base on a rung, one prior", 30 * m, 1, 2 * h},
		{"base between rungs", time.Hour, 0, time.Hour},
		{"base between rungs climbs to the next rung", time.Hour, 1, 2 * h},
		{"base between rungs, two priors", time.Hour, 2, 24 * h},
		{"base below the ladder", 5 * m, 0, 5 * m},
		{"base below the ladder climbs to the first rung", 5 * m, 1, 10 * m},
		{"base above the cap is capped", 48 * h, 0, 24 * h},
		{"base above the cap stays capped", 48 * h, 3, 24 * h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.LockDuration(tt.base, tt.prior); got != tt.want {
				t.Errorf("LockDuration(%s, %d) = %s, want %s", tt.base, tt.prior, got, tt.want)
			}
		})
	}
}

func TestPriorOffences(t *testing.T) {
	p := DefaultPolicy() // reset after 24h
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		count int
		last  time.Time
		want  int
	}{
		{"none", 0, time.Time{}, 0},
		{"recent", 2, now.Add(-time.Hour), 2},
		{"just inside the window", 3, now.Add(-24*time.Hour + time.Second), 3},
		{"quiet for the whole window", 3, now.Add(-24 * time.Hour), 0},
		{"no time on record", 3, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.PriorOffences(tt.count, tt.last, now); got != tt.want {
				t.Errorf("PriorOffences = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDetail(t *testing.T) {
	f := &schemas.Features{UserFailures15m: 7, UserDistinctIPs1h: 3, City: "Lyon", Country: "FR", TravelKm: 5843.72,
		TravelSpeedKmh: 12000.4, IPSuccessRatio1h: 0.126, TorExit: true, Latitude: 45.75, Longitude: -3}
	tests := []struct {
		name     string
		template string
		want     string
	}{
		{"ints", "{user_failures_15m} failures in 15 min from {user_distinct_ips_1h} networks", "7 failures in 15 min from 3 networks"},
		{"strings", "first login from {city}, {country}", "first login from Lyon, FR"},
		{"empty strings as unknown", "new device: {browser} on {os}", "new device: unknown on unknown"},
		{"large floats without decimals", "{travel_km} km at {travel_speed_kmh} km/h", "5844 km at 12000 km/h"},
		{"small floats with two decimals at most", "ratio {ip_success_ratio_1h}, lat {latitude}, lon {longitude}", "ratio 0.13, lat 45.75, lon -3"},
		{"bools", "tor={tor_exit} vpn={anonymous_vpn}", "tor=true vpn=false"},
		{"escaped braces", "{{literal}} {city}", "{literal} Lyon"},
		{"spaces inside braces", "{ city }", "Lyon"},
		{"no placeholder", "plain text", "plain text"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := parseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			r := &Rule{detail: tmpl}
			if got := r.Detail(f); got != tt.want {
				t.Errorf("Detail = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"{nope}", "{city", "city}", "{}"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q) succeeded", bad)
		}
	}
}

func TestResultReasons(t *testing.T) {
	set := shippedSet(t)
	f := &schemas.Features{Failure: true, UserNetworkFailures15m: 6, Network: "198.51.100.0/24", ResidentialProxy: true}
	var res Result
	set.Evaluate(f, invalidAddr, &res)
	reasons := res.Reasons(f, nil)
	if len(reasons) != 1 || reasons[0] != (schemas.Reason{Rule: "failure_burst", Weight: 40, Detail: "6 failures in 15 min from 198.51.100.0/24"}) {
		t.Errorf("reasons %+v", reasons)
	}
	if hits := res.ShadowHits(nil); len(hits) != 1 || hits[0] != (schemas.ShadowHit{Rule: "residential_proxy", Weight: 20}) {
		t.Errorf("shadow hits %+v", hits)
	}
}
