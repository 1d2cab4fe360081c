package rules

import (
	"net/netip"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

// scenarios are typical events for the shipped rule set, with the verdict
// each must get. The same table feeds TestScenarios, the allocation test and
// BenchmarkEvaluateDefault.
var scenarios = []scenario{
	{
		name: "ordinary login, known city and device",
		features: schemas.Features{UserID: "alice", IP: "81.2.69.160", Network: "81.2.69.0/24", Success: true, HourUTC: 9,
			GeoKnown: true, Country: "GB", City: "London", Latitude: 51.5, Longitude: -0.12, ASNKnown: true, ASN: 20712, ASOrg: "Andrews & Arnold",
			AnonKnown: true, Browser: "Firefox", BrowserMajor: 128, OS: "Linux", DeviceType: "desktop", DeviceKey: "d-1", HasDeviceID: true,
			UserSuccesses24h: 2, UserKnown: true, UserSuccessesTotal: 340, SecondsSinceLastSuccess: 86000, TravelKm: 1.2, TravelSpeedKmh: 0.05,
			IPAttempts1h: 1, IPDistinctUsers10m: 1, IPDistinctUsers1h: 1, IPSuccessRatio1h: 1, DeviceDistinctUsers24h: 1},
		verdict: "allow",
	},
	{
		name: "mistyped password once",
		features: schemas.Features{UserID: "alice", IP: "81.2.69.160", Failure: true, FailureReason: "bad_password", UserKnown: true,
			UserFailures1m: 1, UserFailures15m: 1, UserFailures1h: 1, UserConsecutiveFailures: 1, UserNetworkFailures15m: 1, UserDistinctIPs1h: 1,
			IPFailures1m: 1, IPFailures10m: 1, IPFailures1h: 1, IPAttempts1h: 2, IPDistinctUsers10m: 1, IPDistinctUsers1h: 1, IPSuccessRatio1h: 0.5},
		verdict: "allow",
	},
	{
		name: "first login from a new city",
		features: schemas.Features{UserID: "alice", IP: "90.1.2.3", Success: true, GeoKnown: true, Country: "FR", City: "Lyon",
			UserKnown: true, UserSuccessesTotal: 340, NewCity: true, NewCountry: true, TravelKm: 750, TravelSpeedKmh: 30},
		verdict: "challenge", matched: "unfamiliar_city",
	},
	{
		name: "account takeover from abroad on a new device",
		features: schemas.Features{UserID: "alice", IP: "45.1.2.3", Success: true, Country: "BR", City: "São Paulo", UserKnown: true,
			NewCity: true, NewCountry: true, NewDevice: true, Browser: "Chrome", OS: "Windows", TravelKm: 9500, TravelSpeedKmh: 14000},
		verdict: "lockout", matched: "unfamiliar_city new_device impossible_travel",
	},
	{
		name: "brute force on one account",
		features: schemas.Features{UserID: "alice", IP: "198.51.100.7", Failure: true, UserKnown: true,
			UserFailures15m: 9, UserFailures1h: 9, UserConsecutiveFailures: 9, UserNetworkFailures15m: 9, UserDistinctIPs1h: 1,
			IPFailures10m: 9, IPFailures1h: 9, IPDistinctUsers10m: 1, IPDistinctUsers1h: 1},
		verdict: "lockout", matched: "failure_burst",
	},
	{
		name: "credential stuffing from a hosting provider",
		features: schemas.Features{UserID: "user4711", IP: "203.0.113.9", Failure: true, FailureReason: "unknown_user", Hosting: true, Anonymous: true,
			Automation: true, Browser: "python-requests", DeviceType: "bot", UserFailures15m: 1, UserNetworkFailures15m: 1,
			IPFailures10m: 300, IPFailures1h: 1200, IPDistinctUsers10m: 290, IPDistinctUsers1h: 1150, IPFailedUsers1h: 1150, IPSuccessRatio1h: 0.01},
		verdict: "lockout", matched: "anonymous_ip credential_stuffing password_spray bot_user_agent",
	},
	{
		name: "success after failures through Tor",
		features: schemas.Features{UserID: "bob", IP: "185.220.101.1", Success: true, TorExit: true, Anonymous: true, UserKnown: true,
			UserFailures15m: 4, UserNetworkFailures15m: 4, UserFailures1h: 4, NewDevice: true},
		verdict: "challenge", matched: "new_device failure_then_success anonymous_ip",
	},
}

type scenario struct {
	name     string
	features schemas.Features
	verdict  schemas.Verdict
	matched  string // active rule ids in set order
}

func (sc *scenario) addr() netip.Addr {
	a, _ := netip.ParseAddr(sc.features.IP)
	return a
}

func TestScenarios(t *testing.T) {
	set := shippedSet(t)
	var res Result
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			set.Evaluate(&sc.features, sc.addr(), &res)
			if res.Verdict != sc.verdict || ids(res.Matched) != sc.matched {
				t.Errorf("verdict %s matched %q, want %s matched %q", res.Verdict, ids(res.Matched), sc.verdict, sc.matched)
			}
		})
	}
}

// TestEvaluateAllocs is the allocation guarantee of the hot path: with a
// warm Result, evaluating the shipped set allocates nothing, whatever the
// scenario.
func TestEvaluateAllocs(t *testing.T) {
	set := shippedSet(t)
	var res Result
	for _, sc := range scenarios {
		addr := sc.addr()
		set.Evaluate(&sc.features, addr, &res) // warm the slices
		if n := testing.AllocsPerRun(100, func() { set.Evaluate(&sc.features, addr, &res) }); n != 0 {
			t.Errorf("%s: %v allocations per Evaluate, want 0", sc.name, n)
		}
	}
}

// BenchmarkEvaluateDefault scores the scenarios with the shipped set, one
// Result per worker as the engine does. One op is one event.
func BenchmarkEvaluateDefault(b *testing.B) {
	set := shippedSet(b)
	addrs := make([]netip.Addr, len(scenarios))
	for i := range scenarios {
		addrs[i] = scenarios[i].addr()
	}
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		var res Result
		i := 0
		for b.Loop() {
			set.Evaluate(&scenarios[i].features, addrs[i], &res)
			if i++; i == len(scenarios) {
				i = 0
			}
		}
	})
	for i := range scenarios {
		sc := &scenarios[i]
		b.Run(sc.name, func(b *testing.B) {
			b.ReportAllocs()
			var res Result
			for b.Loop() {
				set.Evaluate(&sc.features, addrs[i], &res)
			}
		})
	}
}

// BenchmarkEvaluateInterpreted is the same set run on expr's VM instead of
// the lowered closures: the reason lowering exists.
func BenchmarkEvaluateInterpreted(b *testing.B) {
	set := shippedSet(b)
	for _, r := range set.rules {
		r.fast = nil // this set is private to the benchmark
	}
	b.ReportAllocs()
	var res Result
	i := 0
	for b.Loop() {
		sc := &scenarios[i]
		set.Evaluate(&sc.features, invalidAddr, &res)
		if i++; i == len(scenarios) {
			i = 0
		}
	}
}
