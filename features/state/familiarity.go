package state

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// The familiarity model (docs/features.md, "Familiarity"): after Freeman
// et al., "Who Are You? A Statistical Approach to Measuring User
// Authenticity" (NDSS 2016), each attribute of an attempt is scored by the
// likelihood ratio p(value | everyone) / p(value | user), and the
// attributes' log ratios are weighted and summed into familiarity_risk.

// famAttr is an attribute the familiarity model counts.
type famAttr uint8

const (
	famNetwork famAttr = iota // /24 or /64
	famASN
	famCountry
	famCity
	famBrowser // family and major version
	famOS
	famDevice
	famHour // hour of day, UTC
	numFamAttrs
)

// famSpec is what the model knows of one attribute: its weight in
// familiarity_risk, the size of the value space assumed by the population's
// add-one smoothing, and whether the population counts it exactly (a small
// value space) or in the count-min sketch.
type famSpec struct {
	weight float64
	values float64
	exact  bool
}

// famSpecs is the one table of the attributes' weights and smoothing.
// The weights start from the rba-algorithm's IP 0.6 / ASN 0.3 / country
// 0.1 (Wiefling et al.), scaled to 0.6 of the total (network 0.30, ASN
// 0.20, country and city 0.05 each); the rest goes to what the
// rba-algorithm does not score: the device key 0.30 (as much as the
// network: a stolen password comes without the victim's device), the
// client (browser 0.04, OS 0.03) and the hour 0.03.
var famSpecs = [numFamAttrs]famSpec{
	famNetwork: {weight: 0.30, values: 1 << 24},
	famASN:     {weight: 0.20, values: 100_000},
	famCountry: {weight: 0.05, values: 250, exact: true},
	famCity:    {weight: 0.05, values: 100_000},
	famBrowser: {weight: 0.04, values: 500, exact: true},
	famOS:      {weight: 0.03, values: 50, exact: true},
	famDevice:  {weight: 0.30, values: 1 << 24},
	famHour:    {weight: 0.03, values: 24, exact: true},
}

// Constants of the model, each documented in docs/features.md.
const (
	// famTopK is how many values of each attribute a user keeps: the
	// most counted, a new value taking the place of the least counted.
	famTopK = 4
	// famHalfLife is the half-life of a user's counts, in event time.
	famHalfLife = 30 * 24 * time.Hour
	// famPrior is the Witten-Bell escape's pseudo-count: a user with no
	// distinct value yet still gives a new value some probability.
	famPrior = 1.0
	// famCapBits bounds an attribute's log2 ratio either way.
	famCapBits = 8.0
	// famFullBits is the weighted sum of log2 ratios that
	// familiarity_risk maps to 100.
	famFullBits = 3.5
)

// famKeys are an attempt's values by attribute, hashed; valid is false
// when the attempt does not know the value.
type famKeys [numFamAttrs]profileKey

// famSlot is one value a user was seen with and its decayed count: 8
// bytes.
type famSlot struct {
	hash  uint32
	count float32
}

// familiarity is one user's decayed counts: per attribute the total, the
// (decayed) number of distinct values ever added, and the top famTopK
// values. 4 + 8*(4+4+famTopK*8) = 324 bytes, allocated at the first
// verified login.
type familiarity struct {
	at       uint32 // the event time the counts are decayed to
	total    [numFamAttrs]float32
	distinct [numFamAttrs]float32
	slots    [numFamAttrs][famTopK]famSlot
}

// decayFactor is the weight, at time to, of a count made at time from.
func decayFactor(from, to uint32) float64 {
	return math.Exp2(-(float64(to) - float64(from)) / famHalfLife.Seconds())
}

// learn adds one verified login with keys at at; skip holds the
// attributes not to count (bit per attribute).
func (fm *familiarity) learn(keys *famKeys, at uint32, skip uint16) {
	weight := float32(1)
	switch {
	case fm.at == 0:
		fm.at = at
	case at > fm.at:
		decay := float32(decayFactor(fm.at, at))
		for a := range fm.total {
			fm.total[a] *= decay
			fm.distinct[a] *= decay
			for i := range fm.slots[a] {
				fm.slots[a][i].count *= decay
			}
		}
		fm.at = at
	case at < fm.at: // a late event counts as it would have decayed
		weight = float32(decayFactor(at, fm.at))
	}
	for a, k := range keys {
		if !k.valid || skip&(1<<a) != 0 {
			continue
		}
		fm.add(famAttr(a), k.hash, weight, weight)
	}
}

// add counts value hash of attribute a weight times; a value not among
// the kept ones adds distinctWeight to the distinct values.
func (fm *familiarity) add(a famAttr, hash uint32, weight, distinctWeight float32) {
	fm.total[a] += weight
	slots := &fm.slots[a]
	least := 0
	for i := range slots {
		if slots[i].count > 0 && slots[i].hash == hash {
			slots[i].count += weight
			return
		}
		if slots[i].count < slots[least].count {
			least = i
		}
	}
	fm.distinct[a] += distinctWeight
	if slots[least].count <= weight {
		slots[least] = famSlot{hash: hash, count: weight}
	}
}

// count returns the decayed count of value hash of attribute a, total and
// distinct (all relative: a common decay cancels out in the ratios).
func (fm *familiarity) count(a famAttr, hash uint32) (c, total, distinct float64) {
	for _, s := range fm.slots[a] {
		if s.count > 0 && s.hash == hash {
			c = float64(s.count)
		}
	}
	return c, float64(fm.total[a]), float64(fm.distinct[a])
}

// population is the counts of every user's verified logins: exact for
// attributes with a small value space, count-min sketches for the rest
// (popcounts.go), updated with atomic adds and no lock, so that the
// partitions' goroutines never wait on one another for them.
type population struct {
	exact  [numFamAttrs]*exactCounts
	sketch [numFamAttrs]*countSketch
	total  [numFamAttrs]atomic.Uint64
}

// newPopulation returns empty counts whose sketches are seeded with seed,
// or a random seed when it is 0.
func newPopulation(seed uint64) *population {
	p := &population{}
	if seed == 0 {
		seed = newPopulationSeed()
	}
	for a, spec := range famSpecs {
		if spec.exact {
			p.exact[a] = newExactCounts(seed)
		} else {
			p.sketch[a] = newCountSketch(seed)
		}
	}
	return p
}

// add counts value hash of attribute a n times.
func (p *population) add(a famAttr, hash uint32, n uint64) {
	p.total[a].Add(n)
	if c := p.exact[a]; c != nil {
		c.add(hash, n)
		return
	}
	p.sketch[a].add(hash, n)
}

// learn counts the attempt's valid keys, except the attributes in skip.
func (p *population) learn(keys *famKeys, skip uint16) {
	for a, k := range keys {
		if k.valid && skip&(1<<a) == 0 {
			p.add(famAttr(a), k.hash, 1)
		}
	}
}

// probabilities fills, for each valid key, p(value | everyone) with
// add-one smoothing over the attribute's assumed value space.
func (p *population) probabilities(keys *famKeys, out *[numFamAttrs]float64) {
	for a, k := range keys {
		if !k.valid {
			continue
		}
		var n uint64
		if c := p.exact[a]; c != nil {
			n = c.count(k.hash)
		} else {
			n = p.sketch[a].count(k.hash)
		}
		out[a] = (float64(n) + 1) / (float64(p.total[a].Load()) + famSpecs[a].values)
	}
}

// famScore is the model's reading of one attempt.
type famScore struct {
	bits [numFamAttrs]float64 // log2 p(value|everyone)/p(value|user), 0 when unknown
	risk float64              // 0..100
}

// score reads the attempt's keys against the user's counts fm (nil: no
// verified login yet, every ratio is 1) and the population's pop.
func score(fm *familiarity, keys *famKeys, pop *[numFamAttrs]float64) famScore {
	var s famScore
	if fm == nil {
		return s
	}
	weighted := 0.0
	for a, k := range keys {
		if !k.valid {
			continue
		}
		c, n, d := fm.count(famAttr(a), k.hash)
		if n <= 0 {
			continue // never seen this attribute for the user: no evidence
		}
		// Witten-Bell interpolation with the population as the back-off:
		// a user who has shown many distinct values keeps more room for a
		// new one than a user who always shows the same.
		escape := d + famPrior
		pUser := (c + escape*pop[a]) / (n + escape)
		bits := math.Max(-famCapBits, math.Min(famCapBits, math.Log2(pop[a]/pUser)))
		s.bits[a] = bits
		// Only unfamiliar evidence adds risk: a familiar city does not
		// cancel a never-seen device (a proxy in the victim's city is
		// cheap, the victim's device is not).
		weighted += famSpecs[a].weight * math.Max(bits, 0)
	}
	s.risk = 100 * math.Min(weighted/famFullBits, 1)
	return s
}

// setFamKeys fills the attempt's keys of the attributes the profile does
// not keep (browser, OS, hour) and copies the rest from the profile keys.
func (o *observation) setFamKeys(ev *schemas.LoginEvent, f *schemas.Features) {
	o.fam = famKeys{
		famNetwork: o.keys[kindNetwork],
		famASN:     o.keys[kindASN],
		famCountry: o.keys[kindCountry],
		famCity:    o.keys[kindCity],
		famDevice:  o.keys[kindDevice],
		famHour:    newProfileKey(keyhash.Mix64(uint64(ev.OccurredAt.UTC().Hour()) + 1)),
	}
	if f.Browser != "" {
		o.fam[famBrowser] = newProfileKey(keyhash.Mix64(keyhash.String(f.Browser) ^ uint64(f.BrowserMajor)))
	}
	if f.OS != "" {
		o.fam[famOS] = newProfileKey(keyhash.String(f.OS))
	}
}

// readFamiliarity fills the familiarity features of the attempt o for the
// user u (nil: unknown).
func (s *Store) readFamiliarity(u *userState, o *observation, f *schemas.Features) {
	var fm *familiarity
	if u != nil {
		fm = u.familiarity
	}
	var pop [numFamAttrs]float64
	if fm != nil {
		s.population.probabilities(&o.fam, &pop)
	}
	sc := score(fm, &o.fam, &pop)
	f.FamiliarityRisk = math.Round(sc.risk*10) / 10
	f.FamiliarityNetworkBits = roundBits(sc.bits[famNetwork])
	f.FamiliarityASNBits = roundBits(sc.bits[famASN])
	f.FamiliarityCountryBits = roundBits(sc.bits[famCountry])
	f.FamiliarityCityBits = roundBits(sc.bits[famCity])
	f.FamiliarityBrowserBits = roundBits(sc.bits[famBrowser])
	f.FamiliarityOSBits = roundBits(sc.bits[famOS])
	f.FamiliarityDeviceBits = roundBits(sc.bits[famDevice])
	f.FamiliarityHourBits = roundBits(sc.bits[famHour])
}

// roundBits keeps two decimals, so that a feature's text and a rule test
// case do not depend on the last bits of a float.
func roundBits(b float64) float64 { return math.Round(b*100) / 100 }

// learnFamiliarity counts the verified login o for the user u and the
// population. It is the one place where the model learns: called by
// Learn, where an allowed success teaches the profile, so that a
// challenged or refused success teaches nothing. Attributes a loaded profile already
// counted (o.at at or before loadedThrough) are skipped, as
// successes_total skips them.
func (s *Store) learnFamiliarity(u *userState, o *observation) {
	var skip uint16
	if p := u.profile(); p != nil && o.at <= p.loadedThrough {
		skip = loadedFamAttrs
	}
	if u.familiarity == nil {
		u.familiarity = new(familiarity)
	}
	u.familiarity.learn(&o.fam, o.at, skip)
	s.population.learn(&o.fam, skip)
}

// loadedFamAttrs are the attributes a loaded profile (schemas.UserProfile)
// lists.
const loadedFamAttrs = 1<<famNetwork | 1<<famASN | 1<<famCountry | 1<<famCity | 1<<famDevice

// loadFamiliarity seeds the user's counts from a loaded profile's entries:
// history lists the values, not their counts, so the successes on record
// are spread evenly over the values of each attribute, each value a
// distinct one.
func (s *Store) loadFamiliarity(u *userState, entries []profileEntry, successes int, at uint32) {
	var perKind [numKinds]int
	for _, e := range entries {
		perKind[e.kind]++
	}
	if len(entries) == 0 {
		return
	}
	if u.familiarity == nil {
		u.familiarity = new(familiarity)
		u.familiarity.at = at
	}
	fm := u.familiarity
	weight := 1.0
	if at != 0 && fm.at != 0 {
		weight = decayFactor(min(at, fm.at), fm.at)
	}
	attrOf := [numKinds]famAttr{kindCountry: famCountry, kindCity: famCity, kindASN: famASN, kindDevice: famDevice, kindNetwork: famNetwork}
	for _, e := range entries {
		each := float64(max(successes, perKind[e.kind])) / float64(perKind[e.kind])
		a := attrOf[e.kind]
		fm.add(a, e.hash, float32(each*weight), float32(weight))
		s.population.add(a, e.hash, uint64(math.Round(each)))
	}
}
