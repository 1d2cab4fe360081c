// Package loadgen is the load generation that is not the daemon: the
// traffic generator, the HTTP load client (HTTP) and the Kafka bench
// harness's producer and readers.
//
// The traffic generator (New, Labelled) is a stand-in for a login gateway:
// a deterministic generator of realistic login attempts for the demo, the
// benchmarks and the tests. Ordinary users log in from their home city and
// device, now and then mistype a password or travel; mixed in are a brute
// force on one account, a credential-stuffing run from one address across
// many accounts, a password spray, a distributed brute force, a Tor login
// and an impossible-travel login. The addresses come from the networks of
// the generated test GeoIP databases (testdata/geoip), so enrichment sees
// real cities.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// City is a place users live in, with the networks its residents use.
type City struct {
	Name string
	V4   netip.Prefix
	V6   netip.Prefix
}

// The networks below are those of testdata/geoip/networks.yaml; a test in
// this package resolves every one through the generated City database.
var cities = []City{
	{"London", netip.MustParsePrefix("81.2.64.0/20"), netip.MustParsePrefix("2a02:8010::/32")},
	{"Manchester", netip.MustParsePrefix("86.144.0.0/16"), netip.MustParsePrefix("2a02:c7c:4100::/48")},
	{"Paris", netip.MustParsePrefix("90.84.0.0/16"), netip.MustParsePrefix("2a01:e0a:3c0::/48")},
	{"Berlin", netip.MustParsePrefix("91.64.0.0/16"), netip.MustParsePrefix("2a02:8108:1c0::/48")},
	{"New York", netip.MustParsePrefix("67.80.0.0/17"), netip.MustParsePrefix("2600:4040:2a0::/48")}, // the /17 avoids the residential-proxy /20
	{"San Francisco", netip.MustParsePrefix("73.162.0.0/16"), netip.MustParsePrefix("2601:640:8a0::/48")},
	{"Seattle", netip.MustParsePrefix("73.97.0.0/16"), netip.MustParsePrefix("2601:600:9f0::/48")},
	{"Tokyo", netip.MustParsePrefix("126.72.0.0/16"), netip.MustParsePrefix("240b:10:2c0::/48")},
	{"Sydney", netip.MustParsePrefix("101.160.0.0/16"), netip.MustParsePrefix("2001:8003:5c0::/48")},
	{"São Paulo", netip.MustParsePrefix("177.32.0.0/16"), netip.MustParsePrefix("2804:14c:65c0::/48")},
	{"Mumbai", netip.MustParsePrefix("49.36.0.0/16"), netip.MustParsePrefix("2405:201:3c0::/48")},
	{"Lagos", netip.MustParsePrefix("102.88.0.0/16"), netip.MustParsePrefix("2c0f:f5c0:4c0::/48")},
}

// Attack sources: addresses of the hosting, Tor and proxy networks.
var (
	hostingV4 = netip.MustParsePrefix("45.33.0.0/20")     // Nimbus Cloud, Frankfurt
	torV4     = netip.MustParsePrefix("185.220.100.0/22") // Tor exits
	spoofV6   = netip.MustParsePrefix("2a0e:97c0::/32")   // Nimbus Cloud IPv6
)

// Browsers used by ordinary users, and the clients attackers use.
var (
	browsers = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	}
	attackerAgents = []string{
		"python-requests/2.32.3",
		"curl/8.10.1",
		"Go-http-client/1.1",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
	}
)

// Config shapes the traffic.
type Config struct {
	Users int    // ordinary users (default 2000)
	Seed  uint64 // same seed, same traffic
	// AttackShare is the fraction of events that belong to attacks
	// (default 0.15).
	AttackShare float64
}

// user is one ordinary account.
type user struct {
	id       string
	home     int // index in cities
	addr     netip.Addr
	agent    string
	deviceID string
}

// Generator produces login events. It is not safe for concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	users []user
	seq   uint64

	scenarios []scenario
	next      int // round robin over scenarios
}

// scenario is an attack (or an unusual user) that yields its next event.
type scenario interface {
	name() string
	// caughtBy names the shipped rules (rules/default) meant to catch
	// it: the demo's promise, which its test checks.
	caughtBy() []string
	next(g *Generator, at time.Time) schemas.LoginEvent
}

// New returns a generator.
func New(cfg Config) *Generator {
	if cfg.Users <= 0 {
		cfg.Users = 2000
	}
	if cfg.AttackShare <= 0 {
		cfg.AttackShare = 0.15
	}
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	g.users = make([]user, cfg.Users)
	for i := range g.users {
		home := g.rng.IntN(len(cities))
		g.users[i] = user{
			id:       fmt.Sprintf("user-%06d", i),
			home:     home,
			addr:     g.addrIn(g.cityPrefix(home)),
			agent:    browsers[g.rng.IntN(len(browsers))],
			deviceID: fmt.Sprintf("dev-%016x", g.rng.Uint64()),
		}
	}
	g.resetScenarios()
	return g
}

func (g *Generator) cityPrefix(i int) netip.Prefix {
	if g.rng.IntN(4) == 0 {
		return cities[i].V6
	}
	return cities[i].V4
}

// addrIn draws an address inside p, avoiding the network's first address.
func (g *Generator) addrIn(p netip.Prefix) netip.Addr { return addrIn(g.rng, p) }

// addrIn draws an address inside p with rng, avoiding the network's first
// address.
func addrIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := len(b) - 1; i >= 0 && (i+1)*8 > bits; i-- {
		r := byte(rng.IntN(256))
		if i*8 < bits { // keep the prefix bits of a partial byte
			keep := byte(0xff << (8 - (bits - i*8)))
			r = b[i]&keep | r&^keep
		}
		b[i] = r
	}
	if b[len(b)-1] == 0 {
		b[len(b)-1] = 1
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

// Next returns the next event, occurring at at.
func (g *Generator) Next(at time.Time) schemas.LoginEvent {
	if g.rng.Float64() < g.cfg.AttackShare && len(g.scenarios) > 0 {
		s := g.scenarios[g.next%len(g.scenarios)]
		g.next++
		return s.next(g, at)
	}
	return g.ordinary(at)
}

func (g *Generator) event(at time.Time, userID string, addr netip.Addr, ok bool, agent, deviceID string) schemas.LoginEvent {
	g.seq++
	ev := schemas.LoginEvent{
		EventID:    fmt.Sprintf("evt-%x-%09d", g.cfg.Seed, g.seq),
		OccurredAt: at.UTC(),
		UserID:     userID,
		Outcome:    schemas.OutcomeSuccess,
		IP:         addr.String(),
		Addr:       addr,
		UserAgent:  agent,
		DeviceID:   deviceID,
		AuthMethod: "password",
	}
	if !ok {
		ev.Outcome = schemas.OutcomeFailure
		ev.FailureReason = "bad_password"
	}
	return ev
}

// ordinary is a user logging in from home; one in twenty mistypes first.
func (g *Generator) ordinary(at time.Time) schemas.LoginEvent {
	u := &g.users[g.rng.IntN(len(g.users))]
	ok := g.rng.IntN(20) != 0
	return g.event(at, u.id, u.addr, ok, u.agent, u.deviceID)
}

func (g *Generator) resetScenarios() {
	g.scenarios = []scenario{
		&bruteForce{},
		&credentialStuffing{},
		&passwordSpray{},
		&distributedBruteForce{},
		&impossibleTravel{},
		&torLogin{},
	}
}

// Scenarios names the attack scenarios in the mix.
func (g *Generator) Scenarios() []string {
	out := make([]string, len(g.scenarios))
	for i, s := range g.scenarios {
		out[i] = s.name()
	}
	return out
}

// CaughtBy maps each attack scenario in the mix to the shipped rules meant
// to catch it. A demo run long enough must see every one of them fire.
func (g *Generator) CaughtBy() map[string][]string {
	out := make(map[string][]string, len(g.scenarios))
	for _, s := range g.scenarios {
		out[s.name()] = s.caughtBy()
	}
	return out
}

// rotation counts a scenario's attempts, so that it moves on to new
// targets every so many.
type rotation struct{ tries int }

// turn counts an attempt and reports whether it is the first of a run of
// every attempts, when the scenario picks its new targets.
func (r *rotation) turn(every int) bool {
	first := r.tries%every == 0
	r.tries++
	return first
}

// bruteForce: one hosting address guessing one account's password.
type bruteForce struct {
	victim int
	addr   netip.Addr
	rotation
}

func (s *bruteForce) name() string       { return "brute_force" }
func (s *bruteForce) caughtBy() []string { return []string{"failure_burst"} }
func (s *bruteForce) next(g *Generator, at time.Time) schemas.LoginEvent {
	if s.turn(50) {
		s.victim = g.rng.IntN(len(g.users))
		s.addr = g.addrIn(hostingV4)
	}
	return g.event(at, g.users[s.victim].id, s.addr, false, attackerAgents[0], "")
}

// credentialStuffing: one address trying leaked pairs across many
// accounts, each once, most of them failing.
type credentialStuffing struct {
	addr netip.Addr
	rotation
}

func (s *credentialStuffing) name() string       { return "credential_stuffing" }
func (s *credentialStuffing) caughtBy() []string { return []string{"credential_stuffing"} }
func (s *credentialStuffing) next(g *Generator, at time.Time) schemas.LoginEvent {
	if s.turn(200) {
		s.addr = g.addrIn(hostingV4)
	}
	victim := g.rng.IntN(len(g.users) * 2) // half of the names do not exist
	id := fmt.Sprintf("user-%06d", victim)
	ok := g.rng.IntN(100) == 0
	ev := g.event(at, id, s.addr, ok, attackerAgents[1], "")
	if victim >= len(g.users) {
		ev.FailureReason = "unknown_user"
	}
	return ev
}

// passwordSpray: an IPv6 attacker rotating addresses inside one /64, one
// common password against many accounts.
type passwordSpray struct {
	net netip.Prefix
	rotation
}

func (s *passwordSpray) name() string       { return "password_spray" }
func (s *passwordSpray) caughtBy() []string { return []string{"password_spray"} }
func (s *passwordSpray) next(g *Generator, at time.Time) schemas.LoginEvent {
	if s.turn(300) {
		base := g.addrIn(spoofV6)
		s.net, _ = base.Prefix(64)
	}
	victim := g.rng.IntN(len(g.users))
	return g.event(at, g.users[victim].id, g.addrIn(s.net), false, attackerAgents[3], "")
}

// distributedBruteForce: many addresses guessing one account.
type distributedBruteForce struct {
	victim int
	rotation
}

func (s *distributedBruteForce) name() string       { return "distributed_bruteforce" }
func (s *distributedBruteForce) caughtBy() []string { return []string{"distributed_bruteforce"} }
func (s *distributedBruteForce) next(g *Generator, at time.Time) schemas.LoginEvent {
	if s.turn(60) {
		s.victim = g.rng.IntN(len(g.users))
	}
	city := g.rng.IntN(len(cities))
	return g.event(at, g.users[s.victim].id, g.addrIn(g.cityPrefix(city)), false, attackerAgents[2], "")
}

// impossibleTravel: a user logs in at home, then again from a city far
// away minutes later with another device (a stolen session or password).
type impossibleTravel struct {
	victim int
	step   int
}

func (s *impossibleTravel) name() string { return "impossible_travel" }
func (s *impossibleTravel) caughtBy() []string {
	return []string{"unfamiliar_city", "impossible_travel"}
}
func (s *impossibleTravel) next(g *Generator, at time.Time) schemas.LoginEvent {
	s.step++
	if s.step%2 == 1 {
		s.victim = g.rng.IntN(len(g.users))
		u := &g.users[s.victim]
		return g.event(at, u.id, u.addr, true, u.agent, u.deviceID)
	}
	u := &g.users[s.victim]
	far := (u.home + len(cities)/2) % len(cities)
	return g.event(at, u.id, g.addrIn(cities[far].V4), true, browsers[0], fmt.Sprintf("dev-%016x", g.rng.Uint64()))
}

// torLogin: a known user's password used from a Tor exit.
type torLogin struct{}

func (s *torLogin) name() string       { return "tor_login" }
func (s *torLogin) caughtBy() []string { return []string{"anonymous_ip"} }
func (s *torLogin) next(g *Generator, at time.Time) schemas.LoginEvent {
	u := &g.users[g.rng.IntN(len(g.users))]
	return g.event(at, u.id, g.addrIn(torV4), g.rng.IntN(3) == 0, attackerAgents[3], "")
}

// Cities lists the cities of the generated population.
func Cities() []City { return append([]City(nil), cities...) }

// CityAddr returns the n-th address (n ≥ 1) of a city's IPv4 network, or
// of its IPv6 network with v6; ok is false for an unknown city.
func CityAddr(name string, n int, v6 bool) (netip.Addr, bool) {
	for _, c := range cities {
		if c.Name != name {
			continue
		}
		p := c.V4
		if v6 {
			p = c.V6
		}
		a := p.Addr()
		for range n {
			a = a.Next()
		}
		return a, p.Contains(a)
	}
	return netip.Addr{}, false
}

// HostingAddr returns the n-th address of the hosting network attackers
// use in the generated traffic.
func HostingAddr(n int) netip.Addr {
	a := hostingV4.Addr()
	for range n {
		a = a.Next()
	}
	return a
}
