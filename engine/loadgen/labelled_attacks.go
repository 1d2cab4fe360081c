package loadgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Networks of the labelled attacks and crowds (testdata/geoip/networks.yaml).
var (
	stratusV4  = netip.MustParsePrefix("152.70.0.0/16")   // Stratus Compute, Ashburn (hosting)
	tunnellyV4 = netip.MustParsePrefix("89.187.160.0/20") // Tunnelly VPN, Amsterdam
)

// days is how many days the labelled traffic spans.
const days = 3

// attackStart is a random time on day two or three, in working hours.
func (b *labBuilder) attackStart() time.Time {
	return b.day(1 + b.rng.IntN(days-1)).Add(8*time.Hour + b.jitter(10*time.Hour))
}

// routine adds an account holder's own logins: twice a day, from home, on
// their device, with a typo now and then.
func (b *labBuilder) routine(kind, campaign string, p *person) {
	for d := range days {
		for range 2 {
			b.login(kind, campaign, p, b.day(d).Add(7*time.Hour+b.jitter(15*time.Hour)), p.addr, 0.05)
		}
	}
}

// victim makes an attacked account holder, living as usual, and the
// campaign's name.
func (b *labBuilder) victim(ownerKind, prefix string, c int) (person, string) {
	p := b.newPerson("owner", -1, false)
	campaign := fmt.Sprintf("%s-%02d", prefix, c+1)
	b.routine(ownerKind, campaign, &p)
	return p, campaign
}

// attacks adds every attack campaign.
func (b *labBuilder) attacks() {
	for c := range b.n(6) {
		owner, campaign := b.victim("owner_distributed_attack", "dbf", c)
		start := b.attackStart()
		for i := range 80 {
			city := b.rng.IntN(len(cities))
			b.add("distributed_bruteforce", campaign, attempt{at: start.Add(time.Duration(i) * 45 * time.Second),
				user: owner.id, addr: addrIn(b.rng, cities[city].V4), agent: attackerAgents[2]})
		}
		for _, m := range []int{10, 25, 40, 55, 90} {
			b.login("owner_distributed_attack", campaign, &owner, start.Add(time.Duration(m)*time.Minute), owner.addr, 0)
		}
	}
	for c := range b.n(6) {
		owner, campaign := b.victim("owner_burst", "burst", c)
		start, addr := b.attackStart(), addrIn(b.rng, hostingV4)
		for i := range 40 {
			b.add("brute_force_burst", campaign, attempt{at: start.Add(time.Duration(i) * 6 * time.Second),
				user: owner.id, addr: addr, agent: attackerAgents[0]})
		}
		for _, m := range []int{2, 8, 20, 45} {
			b.login("owner_burst", campaign, &owner, start.Add(time.Duration(m)*time.Minute), owner.addr, 0)
		}
	}
	for c := range b.n(8) {
		owner, campaign := b.victim("owner_other_attack", "stolen", c)
		far := (owner.home + len(cities)/2) % len(cities)
		a := attempt{at: b.attackStart(), user: owner.id, addr: addrIn(b.rng, cities[far].V4), ok: true,
			agent: browsers[0], device: fmt.Sprintf("dev-%016x", b.rng.Uint64())}
		b.add("stolen_credentials", campaign, a)
		for _, m := range []time.Duration{1, 2} {
			b.add("stolen_credentials", campaign, a.mfa(a.at.Add(m*time.Minute), false))
		}
		again := a
		again.at = a.at.Add(12 * time.Minute)
		b.add("stolen_credentials", campaign, again)
	}
	for c := range b.n(6) {
		owner, campaign := b.victim("owner_other_attack", "fatigue", c)
		other := (owner.home + 1 + b.rng.IntN(len(cities)-1)) % len(cities)
		a := attempt{at: b.attackStart(), user: owner.id, addr: addrIn(b.rng, cities[other].V4), ok: true,
			agent: browsers[3], device: fmt.Sprintf("dev-%016x", b.rng.Uint64())}
		b.add("mfa_fatigue", campaign, a)
		for m := range 12 {
			b.add("mfa_fatigue", campaign, a.mfa(a.at.Add(time.Duration(m+1)*time.Minute), false))
		}
		b.add("mfa_fatigue", campaign, a.mfa(a.at.Add(13*time.Minute), true))
	}
	for c := range b.n(3) {
		b.spray(fmt.Sprintf("spray-%02d", c+1))
	}
	for c := range b.n(2) {
		b.stuffing(fmt.Sprintf("stuffing-%02d", c+1))
	}
	for c := range b.n(3) {
		owner, campaign := b.victim("owner_other_attack", "slow", c)
		addr := addrIn(b.rng, cities[b.rng.IntN(len(cities))].V4)
		at := b.day(1).Add(b.jitter(time.Hour))
		for range 144 {
			b.add("slow_guesser", campaign, attempt{at: at, user: owner.id, addr: addr, agent: browsers[1]})
			at = at.Add(8*time.Minute + b.jitter(4*time.Minute))
		}
	}
	b.patient()
}

// patient adds the patient_guesser campaigns: an owner who logs in twice
// a day from home until ten days before the first day and comes back on
// the last evening, and an attacker trying the account three times a day
// from five days before the first day, each time from a fresh address in
// a random city. They draw from a generator of their own, so that the
// other scenarios are the same events with or without them.
func (b *labBuilder) patient() {
	shared := b.rng
	b.rng = rand.New(rand.NewPCG(b.cfg.Seed^0x7061746965, b.cfg.Seed))
	defer func() { b.rng = shared }()
	for c := range b.n(3) {
		owner := b.newPerson("owner", -1, false)
		campaign := fmt.Sprintf("patient-%02d", c+1)
		for d := -historyDays; d < -10; d++ {
			for range 2 {
				b.login("owner_other_attack", campaign, &owner, b.day(d).Add(7*time.Hour+b.jitter(15*time.Hour)), owner.addr, 0.05)
			}
		}
		b.login("owner_other_attack", campaign, &owner, b.day(days-1).Add(21*time.Hour+b.jitter(2*time.Hour)), owner.addr, 0)
		for d := -5; d < days; d++ {
			for range 3 {
				b.add("patient_guesser", campaign, attempt{at: b.day(d).Add(b.jitter(24 * time.Hour)), user: owner.id,
					addr: addrIn(b.rng, cities[b.rng.IntN(len(cities))].V4), agent: browsers[b.rng.IntN(len(browsers))]})
			}
		}
	}
}

// mfa is the second-factor attempt that follows a password success.
func (a attempt) mfa(at time.Time, ok bool) attempt {
	a.at, a.ok, a.method = at, ok, "mfa"
	if !ok {
		a.reason = "mfa_failed"
	}
	return a
}

// target picks an account for a spray or stuffing run: an ordinary user,
// or (with probability unknown) a name that does not exist.
func (b *labBuilder) target(unknown float64) (string, bool) {
	if b.rng.Float64() < unknown || len(b.ordinary) == 0 {
		return fmt.Sprintf("ghost-%06d", b.rng.IntN(1_000_000)), false
	}
	return b.ordinary[b.rng.IntN(len(b.ordinary))].id, true
}

// spray: 8 addresses of one hosting /24, each trying 6 accounts once
// over an hour, all with one password.
func (b *labBuilder) spray(campaign string) {
	net, _ := addrIn(b.rng, stratusV4).Prefix(24)
	start := b.attackStart()
	for range 8 {
		addr := addrIn(b.rng, net)
		for range 6 {
			user, known := b.target(0.2)
			a := attempt{at: start.Add(b.jitter(time.Hour)), user: user, addr: addr, agent: attackerAgents[3], password: "spray|" + campaign}
			if !known {
				a.reason = "unknown_user"
			}
			b.add("spray_slash24", campaign, a)
		}
	}
}

// stuffing: 150 addresses of one hosting ASN, 3 leaked pairs each over
// 30 minutes; 2 % of the pairs are right.
func (b *labBuilder) stuffing(campaign string) {
	start := b.attackStart()
	for range 150 {
		addr := addrIn(b.rng, hostingV4)
		for range 3 {
			user, known := b.target(0.5)
			a := attempt{at: start.Add(b.jitter(30 * time.Minute)), user: user, addr: addr, agent: attackerAgents[1]}
			switch {
			case !known:
				a.reason = "unknown_user"
			case b.rng.Float64() < 0.02:
				a.ok = true
			}
			b.add("stuffing_hosting_asn", campaign, a)
		}
	}
}
