package loadgen

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Shared addresses of the labelled crowds: an office in London, a
// carrier-grade NAT in Mumbai and two campus addresses in Berlin.
var (
	officeAddr     = netip.MustParseAddr("81.2.70.10")
	carrierNATAddr = netip.MustParseAddr("49.36.7.1")
	campusAddrs    = []netip.Addr{netip.MustParseAddr("91.64.50.10"), netip.MustParseAddr("91.64.50.11")}
)

// population makes the ordinary users; attacks pick their targets among
// them, so it comes first.
func (b *labBuilder) population() {
	b.ordinary = make([]person, b.n(1500))
	for i := range b.ordinary {
		b.ordinary[i] = b.newPerson("user", -1, false)
	}
}

// crowds adds the users behind shared addresses.
func (b *labBuilder) crowds() {
	office := make([]person, b.n(200))
	for i := range office {
		office[i] = b.newPerson("office", 0, false)
	}
	for d := range days {
		for i := range office {
			b.login("office_nat", "office", &office[i], b.day(d).Add(8*time.Hour+b.jitter(2*time.Hour)), officeAddr, 0.06)
			b.login("office_nat", "office", &office[i], b.day(d).Add(13*time.Hour+b.jitter(90*time.Minute)), officeAddr, 0.06)
		}
	}
	for range b.n(5000) {
		p := b.newPerson("mobile", 10, true)
		for d := range days {
			for range 1 + b.rng.IntN(2) {
				b.login("carrier_nat", "carrier", &p, b.day(d).Add(6*time.Hour+b.jitter(17*time.Hour)), carrierNATAddr, 0.04)
			}
		}
	}
	for range b.n(1500) {
		p := b.newPerson("student", 3, false)
		for d := range days {
			for range 2 {
				at := b.day(d).Add(8*time.Hour + b.jitter(12*time.Hour))
				addr := campusAddrs[b.rng.IntN(len(campusAddrs))]
				if b.rng.Float64() < 0.01 { // a wrong user name
					b.add("university", "campus", attempt{at: at.Add(-20 * time.Second), user: p.id + "x", addr: addr,
						agent: p.agent, device: p.device, reason: "unknown_user"})
				}
				b.login("university", "campus", &p, at, addr, 0.08)
			}
		}
	}
}

// individuals adds the ordinary users' logins with their churn, the VPN
// travellers and the users sharing an id across tenants.
func (b *labBuilder) individuals() {
	for i := range b.ordinary {
		p := b.ordinary[i]
		churn, churnDay := b.rng.Float64(), 1+b.rng.IntN(days-1)
		lastAddr, lastDevice := p.addr, p.device
		for d := range days {
			addr := p.addr
			if d == churnDay {
				switch {
				case churn < 0.04: // a new phone, kept from now on
					p.agent, p.device = browsers[2+2*b.rng.IntN(2)], fmt.Sprintf("dev-%016x", b.rng.Uint64())
				case churn < 0.07: // a new home address from the ISP, same city
					p.addr = addrIn(b.rng, cities[p.home].V4)
					addr = p.addr
				}
			}
			// On holiday abroad, first logging in there on the last day:
			// 1 % of the users on one day. About one trip abroad a year
			// starts a trip on a given day for 0.3 % of people; the 3 %
			// this had before was ten times that, and every first login
			// abroad is challenged by design (unfamiliar_city), so it set
			// the ordinary users' challenge rate (docs/detection.md).
			if churn >= 0.07 && churn < 0.08 && d == days-1 {
				addr = addrIn(b.rng, cities[(p.home+1+b.rng.IntN(len(cities)-1))%len(cities)].V4)
			}
			logins := make([]time.Time, 1+b.rng.IntN(3))
			for j := range logins {
				logins[j] = b.day(d).Add(6*time.Hour + b.jitter(17*time.Hour))
			}
			slices.SortFunc(logins, time.Time.Compare)
			for j, at := range logins {
				b.login("ordinary", "", &p, at, addr, 0.05)
				// The first login in a new context (a new phone, a new
				// home address, a holiday city) is the one a gateway
				// challenges, and the user passes the second factor:
				// without it every later login there is challenged
				// again, which no real user would put up with.
				if j == 0 && d > 0 && (addr != lastAddr || p.device != lastDevice) {
					b.passChallenge("ordinary", &p, at, addr)
				}
			}
			lastAddr, lastDevice = addr, p.device
		}
	}
	for range b.n(30) {
		p := b.newPerson("traveller", -1, false)
		for d := range days {
			for range 2 {
				addr := p.addr
				if d > 0 {
					addr = addrIn(b.rng, tunnellyV4)
				}
				b.login("vpn_traveller", "", &p, b.day(d).Add(7*time.Hour+b.jitter(15*time.Hour)), addr, 0.05)
			}
		}
	}
	b.familiarityKinds()
	for i := range b.n(30) {
		id := fmt.Sprintf("shared-%05d", i+1)
		acme, globex := b.newPerson("x", 0, false), b.newPerson("x", 7, false)
		acme.id, acme.tenant = id, "acme"
		globex.id, globex.tenant = id, "globex"
		b.routine("two_tenants", id, &acme)
		b.routine("two_tenants", id, &globex)
	}
}

// ownerLogin is b.login for the users of familiarityKinds, who answer the
// challenge of a login from a city of theirs not seen before (their
// first there) with a passed second factor: the gateway reports it as a
// success with auth_method mfa, which teaches the engine the place.
func (b *labBuilder) ownerLogin(kind string, p *person, at time.Time, addr netip.Addr, typo float64, city int, seen map[int]bool) {
	b.login(kind, "", p, at, addr, typo)
	if seen[city] {
		return
	}
	seen[city] = true
	b.passChallenge(kind, p, at, addr)
}

// passChallenge adds the passed second factor of p's login at at from
// addr, 30 seconds later: the success with auth_method mfa a gateway
// reports when the user answers a challenge, which teaches the engine the
// context.
func (b *labBuilder) passChallenge(kind string, p *person, at time.Time, addr netip.Addr) {
	b.add(kind, "", attempt{user: p.id, tenant: p.tenant, addr: addr, ok: true, agent: p.agent, device: p.device}.mfa(at.Add(30*time.Second), true))
}

// historyDays is how many days before the first one the users of
// familiarityKinds already log in: a familiarity model needs a history to
// tell a user's habits from everyone's, and three days are too few.
const historyDays = 21

// familiarityKinds adds the users whose logins a yes/no "new city" rule
// reads badly: those who only ever log in from home (and some of whom are
// robbed of their password by someone in their own city), commuters
// between two cities, and consultants on the road; each with historyDays
// of history before the first day.
func (b *labBuilder) familiarityKinds() {
	for c := range b.n(40) {
		p := b.newPerson("home", -1, false)
		for d := -historyDays; d < days; d++ {
			for h := range 4 {
				b.login("home_only", "", &p, b.day(d).Add(time.Duration(7+4*h)*time.Hour+b.jitter(2*time.Hour)), p.addr, 0.02)
			}
		}
		if c%4 != 0 {
			continue
		}
		// A thief in the victim's city, with the victim's password and a
		// browser of their own; the second factor fails.
		campaign := fmt.Sprintf("stolen-local-%02d", c/4+1)
		a := attempt{at: b.attackStart(), user: p.id, addr: addrIn(b.rng, cities[p.home].V4), ok: true,
			agent: browsers[b.rng.IntN(len(browsers))], device: fmt.Sprintf("dev-%016x", b.rng.Uint64())}
		b.add("stolen_credentials_local", campaign, a)
		b.add("stolen_credentials_local", campaign, a.mfa(a.at.Add(time.Minute), false))
	}
	for range b.n(30) {
		// Neighbouring cities, under 500 km apart: London, Manchester,
		// Paris (indexes 0-2 of cities).
		pair := b.rng.IntN(3)
		p := b.newPerson("commuter", pair, false)
		work := (pair + 1 + b.rng.IntN(2)) % 3
		office := addrIn(b.rng, cities[work].V4)
		seen := map[int]bool{}
		for d := -historyDays; d < days; d++ {
			b.ownerLogin("commuter", &p, b.day(d).Add(8*time.Hour+b.jitter(2*time.Hour)), office, 0.03, work, seen)
			b.ownerLogin("commuter", &p, b.day(d).Add(13*time.Hour+b.jitter(2*time.Hour)), office, 0.03, work, seen)
			b.ownerLogin("commuter", &p, b.day(d).Add(19*time.Hour+b.jitter(3*time.Hour)), p.addr, 0.03, p.home, seen)
		}
	}
	for range b.n(30) {
		p := b.newPerson("consultant", -1, false)
		var regular [5]int
		for i := range regular {
			regular[i] = (p.home + i*3) % len(cities)
		}
		seen := map[int]bool{}
		for d := -historyDays; d < days; d++ {
			city := regular[(d+historyDays)%len(regular)] // a city a day
			for h := range 3 {
				b.ownerLogin("frequent_traveller", &p, b.day(d).Add(time.Duration(8+4*h)*time.Hour+b.jitter(2*time.Hour)), addrIn(b.rng, cities[city].V4), 0.03, city, seen)
			}
		}
	}
}
