package loadgen

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Label is the ground truth of one generated event, one NDJSON line of a
// labels file: which scenario kind it belongs to, which campaign (one
// attack run, or one attacked owner), and whether it is an attack attempt.
// `loginrisk eval` scores decisions against it.
type Label struct {
	EventID  string `json:"event_id"`
	Kind     string `json:"kind"`
	Campaign string `json:"campaign,omitempty"`
	Attack   bool   `json:"attack"`
}

// Kind is one scenario kind of the labelled traffic.
type Kind struct {
	Name   string
	Attack bool
	Doc    string
}

// LabelledKinds lists every kind Labelled produces, attacks first. It is
// the one list of them: docs/detection.md describes the same kinds.
func LabelledKinds() []Kind {
	return []Kind{
		{"distributed_bruteforce", true, "one account guessed from 80 addresses in many cities for an hour"},
		{"brute_force_burst", true, "one hosting address fails 40 times on one account in 4 minutes"},
		{"stolen_credentials", true, "the right password from a far city and a new device; the challenge fails twice (auth_method mfa); the same place tries again 10 minutes later"},
		{"stolen_credentials_local", true, "the right password from the victim's own city (a home_only user), on a network and a device the victim never used; the challenge fails"},
		{"mfa_fatigue", true, "the right password, then 12 refused MFA prompts in 12 minutes, then an approved one"},
		{"spray_slash24", true, "a spray rotating over 8 addresses of one hosting /24, 6 accounts per address, one try each"},
		{"stuffing_hosting_asn", true, "leaked pairs tried from 150 addresses of one hosting ASN, 3 accounts each, 2 % right"},
		{"slow_guesser", true, "one address guessing one account every ~10 minutes for 24 hours"},
		{"patient_guesser", true, "one account failing three times a day for eight days, each time from a fresh address in another city, while its owner is away (no success for ten days); the owner comes back on the last evening"},
		{"owner_distributed_attack", false, "the owner at home, on their device, during and after a distributed_bruteforce on their account"},
		{"owner_burst", false, "the owner at home during and after a brute_force_burst on their account"},
		{"owner_other_attack", false, "the owners of the accounts of the other attacks, logging in as usual"},
		{"office_nat", false, "200 colleagues behind one office address, twice a day, about 6 % typos"},
		{"carrier_nat", false, "5,000 mobile users behind one carrier-grade NAT address, about 4 % typos"},
		{"university", false, "1,500 students behind two campus addresses, about 8 % typos and 1 % wrong user names"},
		{"vpn_traveller", false, "users at home on day one, then through a commercial VPN's exits"},
		{"two_tenants", false, "the same user id in two tenants, one in London and one in Tokyo, both genuine"},
		{"home_only", false, "users who only ever log in from home, on their one device, four times a day, from three weeks before the first day"},
		{"commuter", false, "users between two neighbouring cities (London, Manchester, Paris): mornings at the office in one, evenings at home in the other, each on its own network, one laptop, from three weeks before the first day; a passed challenge at the first login in each city"},
		{"frequent_traveller", false, "consultants with five cities, one a day, a hotel network at each login, one laptop, three times a day, from three weeks before the first day; a passed challenge at the first login in each city"},
		{"ordinary", false, "users at home with real churn: typos, new phones, a holiday abroad, a new home address; a passed challenge at the first login in each new context"},
	}
}

// LabelledConfig shapes the labelled traffic.
type LabelledConfig struct {
	Seed uint64 // same seed, same events and labels
	// Start is the first day's midnight (default 2026-11-02, a Monday).
	// The traffic spans three days: day one teaches the engine who is
	// who, the attacks come on days two and three. The home-only users,
	// commuters and travellers also log in during the three weeks
	// before (historyDays).
	Start time.Time
	// Scale multiplies every population and campaign count (default 1:
	// the sizes LabelledKinds documents; tests use less). Every kind
	// keeps at least one campaign or user.
	Scale float64
	// PasswordFP makes every password check carry a password_fp, as a
	// gateway computing one would send (passwordFP): a genuine success
	// the user's own password, a genuine typo or an attacker's guess a
	// password of its own, a spray one password for its whole campaign.
	// Off, the traffic is the same without the field.
	PasswordFP bool
}

// Labelled returns the labelled scenario traffic in event-time order, and
// one label per event in the same order.
func Labelled(cfg LabelledConfig) ([]schemas.LoginEvent, []Label) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	b := &labBuilder{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e9955bd1e995)),
		attack: map[string]bool{},
	}
	for _, k := range LabelledKinds() {
		b.attack[k.Name] = k.Attack
	}
	b.population()
	b.attacks()
	b.crowds()
	b.individuals()
	return b.finish()
}

// labBuilder collects the attempts of every scenario, then orders them.
type labBuilder struct {
	cfg      LabelledConfig
	rng      *rand.Rand
	attack   map[string]bool
	items    []labItem
	users    int      // people made so far, for unique ids
	ordinary []person // the ordinary users, also the targets of sprays

}

type labItem struct {
	ev    schemas.LoginEvent
	label Label
	seq   int // insertion order: ties in time keep it
}

// person is one genuine account holder.
type person struct {
	id, tenant    string
	addr          netip.Addr
	agent, device string
	home          int // index in cities
}

// attempt is one login attempt before it becomes an event.
type attempt struct {
	at            time.Time
	user, tenant  string
	addr          netip.Addr
	ok            bool
	agent, device string
	reason        string // failure reason; default bad_password
	method        string // auth method; default password
	// password is the password tried, for password_fp: by default the
	// user's own on a success, and one used by no other attempt on a
	// failure (a typo, a guess).
	password string
}

// n scales a population or count, keeping at least one.
func (b *labBuilder) n(full int) int { return max(1, int(float64(full)*b.cfg.Scale+0.5)) }

// day returns the midnight of day d (0-based) of the traffic.
func (b *labBuilder) day(d int) time.Time { return b.cfg.Start.Add(time.Duration(d) * 24 * time.Hour) }

// jitter returns a random duration in [0, d).
func (b *labBuilder) jitter(d time.Duration) time.Duration {
	return time.Duration(b.rng.Int64N(int64(d)))
}

// newPerson makes an account holder living in city (random when < 0) with
// a browser or, with mobile, a phone.
func (b *labBuilder) newPerson(prefix string, city int, mobile bool) person {
	b.users++
	if city < 0 {
		city = b.rng.IntN(len(cities))
	}
	agent := browsers[b.rng.IntN(len(browsers))]
	if mobile {
		agent = browsers[2+2*b.rng.IntN(2)] // the iPhone or the Android phone
	}
	return person{
		id:     fmt.Sprintf("%s-%05d", prefix, b.users),
		addr:   addrIn(b.rng, cities[city].V4),
		agent:  agent,
		device: fmt.Sprintf("dev-%016x", b.rng.Uint64()),
		home:   city,
	}
}

// add records one attempt under a kind and campaign.
func (b *labBuilder) add(kind, campaign string, a attempt) {
	ev := schemas.LoginEvent{
		OccurredAt: a.at.UTC().Truncate(time.Millisecond),
		UserID:     a.user,
		TenantID:   a.tenant,
		Outcome:    schemas.OutcomeSuccess,
		IP:         a.addr.String(),
		Addr:       a.addr,
		UserAgent:  a.agent,
		DeviceID:   a.device,
		AuthMethod: cmp.Or(a.method, "password"),
	}
	if !a.ok {
		ev.Outcome = schemas.OutcomeFailure
		ev.FailureReason = cmp.Or(a.reason, "bad_password")
	}
	if b.cfg.PasswordFP && ev.AuthMethod != schemas.AuthMethodMFA {
		password := a.password
		switch {
		case password != "":
		case a.ok:
			password = "own|" + a.tenant + "|" + a.user
		default:
			password = fmt.Sprintf("wrong|%d", len(b.items))
		}
		ev.PasswordFP = passwordFP(password)
	}
	b.items = append(b.items, labItem{ev: ev, label: Label{Kind: kind, Campaign: campaign, Attack: b.attack[kind]}, seq: len(b.items)})
}

// login adds a genuine login by p at at from addr: with probability
// typo a failed attempt (a mistyped password) comes first, seconds before.
func (b *labBuilder) login(kind, campaign string, p *person, at time.Time, addr netip.Addr, typo float64) {
	a := attempt{at: at, user: p.id, tenant: p.tenant, addr: addr, ok: true, agent: p.agent, device: p.device}
	if b.rng.Float64() < typo {
		miss := a
		miss.ok = false
		miss.at = at.Add(-5*time.Second - b.jitter(25*time.Second))
		b.add(kind, campaign, miss)
	}
	b.add(kind, campaign, a)
}

// finish orders the attempts by time and names them.
func (b *labBuilder) finish() ([]schemas.LoginEvent, []Label) {
	slices.SortStableFunc(b.items, func(x, y labItem) int {
		if c := x.ev.OccurredAt.Compare(y.ev.OccurredAt); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	events := make([]schemas.LoginEvent, len(b.items))
	labels := make([]Label, len(b.items))
	for i, it := range b.items {
		it.ev.EventID = fmt.Sprintf("lab-%x-%07d", b.cfg.Seed, i+1)
		it.label.EventID = it.ev.EventID
		events[i], labels[i] = it.ev, it.label
	}
	return events, labels
}

// labelledGatewayKey is the key of the labelled traffic's stand-in
// gateway. A real gateway's key is a secret the engine never sees
// (docs/security.md).
var labelledGatewayKey = []byte("loginrisk labelled scenarios: not a secret")

// passwordFP is the password_fp a gateway sends for password: the first
// 12 bytes of HMAC-SHA-256 of the password under the gateway's key,
// base64url without padding (schemas.PasswordFPLen characters).
func passwordFP(password string) string {
	mac := hmac.New(sha256.New, labelledGatewayKey)
	mac.Write([]byte(password))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:12])
}
