package features

import (
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Retention is how long the store keeps the windows of a key after its
// last event: the longest window (24 h) plus a margin for late events.
// Sources (IPv4 addresses, IPv6 /64s), whose windows are an hour at most,
// go after 70 minutes idle.
const Retention = 25 * time.Hour

// DefaultProfileRetention is how long a user's profile (known countries,
// cities, networks, devices, last success) outlives the user's last
// event, by default.
const DefaultProfileRetention = 30 * 24 * time.Hour

// DefaultShards is the default number of lock shards per key kind.
const DefaultShards = 256

// ipRetention is how long an idle IP is kept: its longest window and a
// margin.
const ipRetention = time.Hour + 10*time.Minute

// Bounds of the per-key state.
const (
	maxUserRecords   = 64 // exact attempt records per user (last 24 h)
	maxIPRecords     = 64 // exact attempt records per IP (last hour)
	maxSourcesPerKey = 64 // distinct sources per user, users per IP, users per device
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Shards is the number of lock shards for each key kind (users, IPs,
	// devices), a power of two. Zero means DefaultShards.
	Shards int
	// ProfileRetention is how long a user's profile is kept after the
	// user's last event; at least Retention. Zero means
	// DefaultProfileRetention.
	ProfileRetention time.Duration
}

// Validate checks the configuration after defaults are filled.
func (c StoreConfig) Validate() error {
	if c.Shards < 1 || c.Shards&(c.Shards-1) != 0 {
		return fmt.Errorf("features: shards %d must be a power of two", c.Shards)
	}
	if c.ProfileRetention < Retention {
		return fmt.Errorf("features: profile retention %s must be at least the window retention %s", c.ProfileRetention, Retention)
	}
	return nil
}

// StoreStats counts the keys a Store tracks.
type StoreStats struct {
	Users    int
	Profiles int // users with a profile (at least one success)
	IPs      int // IPv4 addresses and IPv6 /64s
	Devices  int
}

// Store is the behavioural state: per-user, per-IP and per-device
// sliding windows and per-user profiles, in sharded maps. It is safe for
// concurrent use; see the package documentation for its semantics.
type Store struct {
	cfg     StoreConfig
	users   table[string, userState]
	ips     table[ipKey, ipState]
	devices table[string, deviceState]

	userWindow windowSpec
	ipWindow   windowSpec
}

// userState is one user's windows, sources and profile.
type userState struct {
	attempts            window
	sources             recentSet // IP keys seen in the last hour
	consecutiveFailures uint32
	lastSeen            uint32
	hasProfile          bool // since a success or LoadProfile
	// ownProfile is the profile, in the user's state: reading it follows
	// no pointer to another object (a cache miss on a large population),
	// and a user with a profile, which most have, is one allocation.
	ownProfile profile
}

// profile returns the user's profile, or nil before it has one.
func (u *userState) profile() *profile {
	if !u.hasProfile {
		return nil
	}
	return &u.ownProfile
}

// startProfile returns the user's profile, starting it if need be.
func (u *userState) startProfile() *profile {
	u.hasProfile = true
	return &u.ownProfile
}

// ipState is one IPv4 address's (or IPv6 /64's) windows and users.
type ipState struct {
	attempts window
	users    recentSet // users tried in the last hour
	lastSeen uint32
}

// deviceState is one device key's users.
type deviceState struct {
	users    recentSet // users seen in the last 24 h
	lastSeen uint32
}

// NewStore returns an empty store.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Shards == 0 {
		cfg.Shards = DefaultShards
	}
	if cfg.ProfileRetention == 0 {
		cfg.ProfileRetention = DefaultProfileRetention
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{
		cfg:        cfg,
		users:      newTable[string, userState](cfg.Shards),
		ips:        newTable[ipKey, ipState](cfg.Shards),
		devices:    newTable[string, deviceState](cfg.Shards),
		userWindow: newWindowSpec(day, maxUserRecords, 15*minute, minute, 15*minute, hour, day),
		ipWindow:   newWindowSpec(hour, maxIPRecords, 0, minute, 10*minute, hour),
	}, nil
}

// Observe reads the behavioural features of the attempt ev into f and
// records the attempt, in one step per key under that key's shard lock.
// f's enrichment features must be filled already (Enricher.Enrich, or at
// least the attempt fields).
func (s *Store) Observe(ev *schemas.LoginEvent, f *schemas.Features) { s.apply(ev, f, true) }

// Peek reads the behavioural features of the attempt ev into f, as
// Observe would, without recording it (dry runs).
func (s *Store) Peek(ev *schemas.LoginEvent, f *schemas.Features) { s.apply(ev, f, false) }

// observation is what the store needs of an attempt, hashed once.
type observation struct {
	at         uint32
	failure    bool
	userHash   uint64
	userKey    uint32 // in IP and device user sets
	hasAddr    bool
	ipKey      ipKey
	ipHash     uint64
	sourceKey  uint32 // in the user's source set
	sourceAt   int    // its index there, as read found it
	tag        uint32 // the attempt in the user's window (network + outcome)
	deviceHash uint64
	keys       profileKeys
	found      entryRefs // where read found keys in the user's profile
	missing    uint8     // the kinds of keys it did not find (missingKinds)
	// The attempt's location, when usable for travel.
	located   bool
	latitude  float64
	longitude float64
}

func newObservation(ev *schemas.LoginEvent, f *schemas.Features) observation {
	var o observation
	o.set(ev, f)
	return o
}

// set fills o from the attempt ev and its enrichment f (in place: an
// observation is too large to copy on every event).
func (o *observation) set(ev *schemas.LoginEvent, f *schemas.Features) {
	*o = observation{
		at:       toEventTime(ev.OccurredAt),
		failure:  !ev.Success(),
		userHash: hashString(ev.UserID),
	}
	o.userKey = uint32(o.userHash >> 32)
	addr := ev.Addr
	if !addr.IsValid() {
		addr, _ = schemas.ParseIP(ev.IP)
	}
	var networkHash uint64
	if addr.IsValid() {
		o.hasAddr = true
		o.ipKey = ipKeyOf(addr)
		o.ipHash = hashIPKey(o.ipKey)
		o.sourceKey = uint32(o.ipHash >> 32)
		networkHash = hashNetwork(addr)
		o.keys[kindNetwork] = newProfileKey(networkHash)
	}
	o.tag = makeTag(networkHash, o.failure)
	if f.GeoKnown && f.Country != "" {
		countryHash := hashString(f.Country)
		o.keys[kindCountry] = newProfileKey(countryHash)
		if f.City != "" {
			o.keys[kindCity] = newProfileKey(hashCity(countryHash, f.City))
		}
	}
	if f.ASNKnown && f.ASN != 0 {
		o.keys[kindASN] = newProfileKey(mix64(uint64(f.ASN)))
	}
	if f.DeviceKey != "" {
		o.deviceHash = hashString(f.DeviceKey)
		o.keys[kindDevice] = newProfileKey(o.deviceHash)
	}
	// (0, 0) is where a record without coordinates lands, not a place.
	if f.GeoKnown && (f.Latitude != 0 || f.Longitude != 0) {
		o.located, o.latitude, o.longitude = true, f.Latitude, f.Longitude
	}
}

// apply is Observe (record) and Peek (!record): each key's features are
// read, then the attempt recorded, under that key's lock.
func (s *Store) apply(ev *schemas.LoginEvent, f *schemas.Features, record bool) {
	var o observation
	o.set(ev, f)
	s.applyUser(ev.UserID, &o, f, record)
	s.applyIP(&o, f, record)
	s.applyDevice(f.DeviceKey, &o, f, record)
}

func (s *Store) applyUser(userID string, o *observation, f *schemas.Features, record bool) {
	// Unlocked by defer although a deferred call costs about 25
	// instructions here: a panic under the lock (a bug, recovered by
	// net/http for a score request) must not leave the shard locked
	// and every later event of its users waiting for ever.
	sh := s.users.shard(o.userHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(o.userHash, userID)
	switch {
	case u != nil:
	case !record:
		// Peek of an unknown user: read an empty state on the stack
		// (only read may see it, so that it does not escape).
		var unknown userState
		unknown.read(o, &s.userWindow, f)
		return
	default:
		u = new(userState)
		sh.put(o.userHash, strings.Clone(userID), u)
	}
	u.read(o, &s.userWindow, f)
	if record {
		u.update(o, &s.userWindow)
	}
}

// read fills the per-user features of the attempt o.
func (u *userState) read(o *observation, spec *windowSpec, f *schemas.Features) {
	c := u.attempts.counts(o.at, spec, o.tag)
	c.addCurrent(o.failure, spec)
	if o.failure {
		c.networkFailures++
	}
	f.UserFailures1m, f.UserFailures15m, f.UserFailures1h, f.UserFailures24h = c.failures[0], c.failures[1], c.failures[2], c.failures[3]
	f.UserSuccesses1m, f.UserSuccesses15m, f.UserSuccesses1h, f.UserSuccesses24h = c.successes[0], c.successes[1], c.successes[2], c.successes[3]
	f.UserNetworkFailures15m = c.networkFailures
	f.UserConsecutiveFailures = 0
	if o.failure {
		f.UserConsecutiveFailures = int(u.consecutiveFailures) + 1
	}
	sources, at := u.sources.count(o.at, [2]uint32{hour}, o.sourceKey)
	f.UserDistinctIPs1h, o.sourceAt = sources[0], at

	p := u.profile()
	known := p.known()
	f.UserKnown = known
	f.UserSuccessesTotal = 0
	o.found = p.lookup(&o.keys)
	o.missing = missingKinds(&o.keys, &o.found)
	isNew := func(kind profileKind) bool { return known && o.missing&(1<<kind) != 0 }
	f.NewCountry = isNew(kindCountry)
	f.NewCity = isNew(kindCity)
	f.NewASN = isNew(kindASN)
	f.NewDevice = isNew(kindDevice)
	f.NewNetwork = isNew(kindNetwork)
	f.SecondsSinceLastSuccess = -1
	f.TravelKm, f.TravelSpeedKmh = 0, 0
	if p == nil {
		return
	}
	f.UserSuccessesTotal = int(p.successesTotal)
	if p.lastSuccessAt == 0 {
		return
	}
	f.SecondsSinceLastSuccess = float64(max(int64(o.at)-int64(p.lastSuccessAt), 0))
	if o.located && p.lastGeoKnown {
		// From the last success's own place (as the profile keeps it, to
		// about a metre) the distance is 0: most logins are from home.
		f.TravelKm = 0
		if float32(o.latitude) != p.lastLatitude || float32(o.longitude) != p.lastLongitude {
			f.TravelKm = haversineKm(float64(p.lastLatitude), float64(p.lastLongitude), o.latitude, o.longitude)
		}
		seconds := max(math.Abs(float64(int64(o.at)-int64(p.lastSuccessAt))), 60)
		f.TravelSpeedKmh = f.TravelKm / (seconds / 3600)
	}
}

// update records the attempt o.
func (u *userState) update(o *observation, spec *windowSpec) {
	u.attempts.add(attempt{at: o.at, tag: o.tag}, spec)
	if o.hasAddr {
		u.sources.addAt(o.sourceAt, o.sourceKey, o.at, hour, maxSourcesPerKey)
	}
	u.lastSeen = max(u.lastSeen, o.at)
	if o.failure {
		if u.consecutiveFailures < math.MaxUint32 {
			u.consecutiveFailures++
		}
		return
	}
	u.consecutiveFailures = 0
	p := u.startProfile()
	if !p.noteFound(&o.found, o.missing, o.at) {
		p.noteKeys(&o.keys, o.at)
	}
	if o.at > p.loadedThrough && p.successesTotal < math.MaxUint32 {
		p.successesTotal++
	}
	if o.at >= p.lastSuccessAt {
		p.lastSuccessAt = o.at
		p.lastGeoKnown, p.lastLatitude, p.lastLongitude = o.located, float32(o.latitude), float32(o.longitude)
	}
}

// addCurrent counts the attempt being scored in every span.
func (c *windowCounts) addCurrent(failure bool, spec *windowSpec) {
	f := 0
	if failure {
		f = 1
	}
	for j := range c.failures[:spec.activeSpans()] {
		c.failures[j] += f
		c.successes[j] += 1 - f
	}
}

func (s *Store) applyIP(o *observation, f *schemas.Features, record bool) {
	if !o.hasAddr {
		f.IPFailures1m, f.IPFailures10m, f.IPFailures1h, f.IPAttempts1h = 0, 0, 0, 0
		f.IPDistinctUsers10m, f.IPDistinctUsers1h, f.IPSuccessRatio1h = 0, 0, 0
		return
	}
	sh := s.ips.shard(o.ipHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(o.ipHash, o.ipKey)
	switch {
	case st != nil:
	case !record:
		var unknown ipState // as for users: on the stack
		unknown.read(o, &s.ipWindow, f)
		return
	default:
		st = new(ipState)
		sh.put(o.ipHash, o.ipKey, st)
	}
	at := st.read(o, &s.ipWindow, f)
	if record {
		st.attempts.add(attempt{at: o.at, tag: makeTag(0, o.failure)}, &s.ipWindow)
		st.users.addAt(at, o.userKey, o.at, hour, maxSourcesPerKey)
		st.lastSeen = max(st.lastSeen, o.at)
	}
}

// read fills the per-address features of the attempt o, and returns
// where the user's key is in the address's user set.
func (st *ipState) read(o *observation, spec *windowSpec, f *schemas.Features) (userAt int) {
	c := st.attempts.counts(o.at, spec, 0)
	c.addCurrent(o.failure, spec)
	f.IPFailures1m, f.IPFailures10m, f.IPFailures1h = c.failures[0], c.failures[1], c.failures[2]
	f.IPAttempts1h = c.failures[2] + c.successes[2]
	f.IPSuccessRatio1h = float64(c.successes[2]) / float64(f.IPAttempts1h)
	users, at := st.users.count(o.at, [2]uint32{10 * minute, hour}, o.userKey)
	f.IPDistinctUsers10m, f.IPDistinctUsers1h = users[0], users[1]
	return at
}

func (s *Store) applyDevice(deviceKey string, o *observation, f *schemas.Features, record bool) {
	if deviceKey == "" {
		f.DeviceDistinctUsers24h = 0
		return
	}
	sh := s.devices.shard(o.deviceHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(o.deviceHash, deviceKey)
	switch {
	case st != nil:
	case !record:
		var unknown deviceState // as for users: on the stack
		unknown.read(o, f)
		return
	default:
		st = new(deviceState)
		sh.put(o.deviceHash, strings.Clone(deviceKey), st)
	}
	at := st.read(o, f)
	if record {
		st.users.addAt(at, o.userKey, o.at, day, maxSourcesPerKey)
		st.lastSeen = max(st.lastSeen, o.at)
	}
}

// read fills the per-device features of the attempt o, and returns where
// the user's key is in the device's user set.
func (st *deviceState) read(o *observation, f *schemas.Features) (userAt int) {
	users, at := st.users.count(o.at, [2]uint32{day}, o.userKey)
	f.DeviceDistinctUsers24h = users[0]
	return at
}

// LoadProfile seeds a user's profile from history (warm restart). It
// merges with what the store already has: the known values are united,
// successes_total is the larger of the two, and the later last success
// wins. Successes replayed through Observe at or before the loaded last
// success are taken to be counted in p.SuccessesTotal already, so loading
// profiles before replaying recent events does not count them twice.
// Each list keeps its first maxPerKind (16) values, so history should list
// the most recent first.
func (s *Store) LoadProfile(p *schemas.UserProfile) {
	if p == nil || p.UserID == "" {
		return
	}
	at := uint32(0)
	if !p.LastSuccessAt.IsZero() {
		at = toEventTime(p.LastSuccessAt)
	}
	entries := profileEntries(p)
	hash := hashString(p.UserID)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(hash, p.UserID)
	if u == nil {
		u = new(userState)
		sh.put(hash, strings.Clone(p.UserID), u)
	}
	pr := u.startProfile()
	if pr.entries == nil {
		pr.entries = make([]profileEntry, 0, min(len(entries), maxPerKind*int(numKinds)))
	}
	counted := [numKinds]int{}
	for _, e := range entries {
		if counted[e.kind] < maxPerKind {
			counted[e.kind]++
			pr.note(e.kind, e.hash, at)
		}
	}
	total := uint32(min(max(p.SuccessesTotal, 0), math.MaxUint32))
	if total == 0 && (len(entries) > 0 || at != 0) {
		total = 1 // it has logged in successfully, even if the count is missing
	}
	pr.successesTotal = max(pr.successesTotal, total)
	if at != 0 && at >= pr.lastSuccessAt {
		pr.lastSuccessAt = at
		pr.lastGeoKnown = p.LastGeoKnown && (p.LastLatitude != 0 || p.LastLongitude != 0)
		pr.lastLatitude, pr.lastLongitude = float32(p.LastLatitude), float32(p.LastLongitude)
	}
	pr.loadedThrough = max(pr.loadedThrough, at)
	u.lastSeen = max(u.lastSeen, at)
}

// profileEntries hashes the lists of a loaded profile, skipping values
// that do not parse (a network that is not a prefix or an address).
func profileEntries(p *schemas.UserProfile) []profileEntry {
	var out []profileEntry
	add := func(kind profileKind, hash uint64) {
		out = append(out, profileEntry{hash: newProfileKey(hash).hash, kind: kind})
	}
	for _, c := range p.Countries {
		add(kindCountry, hashString(c))
	}
	for _, c := range p.Cities {
		country, city, _ := strings.Cut(c, "/")
		add(kindCity, hashCity(hashString(country), city))
	}
	for _, a := range p.ASNs {
		add(kindASN, mix64(uint64(a)))
	}
	for _, d := range p.Devices {
		add(kindDevice, hashString(d))
	}
	for _, n := range p.Networks {
		if prefix, err := netip.ParsePrefix(n); err == nil {
			add(kindNetwork, hashNetwork(prefix.Addr().Unmap()))
		} else if addr, err := schemas.ParseIP(n); err == nil {
			add(kindNetwork, hashNetwork(addr))
		}
	}
	return out
}

// Sweep frees the state of keys idle at event time now: the windows of
// users idle for Retention (and the whole user once its profile is idle
// for the profile retention, or at once when it has none), IPs idle for
// longer than their longest window, devices idle for Retention. It also
// trims expired records of the keys it keeps. It returns the number of
// keys removed. The engine calls it periodically with the newest event
// time.
func (s *Store) Sweep(now time.Time) (removed int) {
	t := toEventTime(now)
	idle := func(lastSeen uint32, d time.Duration) bool {
		return int64(lastSeen) <= int64(t)-int64(d/time.Second)
	}
	removed += s.users.sweep(func(u *userState) bool {
		if idle(u.lastSeen, Retention) {
			u.attempts = window{}
			u.sources = recentSet{}
			return !u.hasProfile || idle(u.lastSeen, s.cfg.ProfileRetention)
		}
		u.attempts.compact(t, &s.userWindow)
		u.sources.compact(t, hour)
		return false
	})
	removed += s.ips.sweep(func(st *ipState) bool {
		if idle(st.lastSeen, ipRetention) {
			return true
		}
		st.attempts.compact(t, &s.ipWindow)
		st.users.compact(t, hour)
		return false
	})
	removed += s.devices.sweep(func(st *deviceState) bool {
		return st.users.compact(t, day) || idle(st.lastSeen, Retention)
	})
	return removed
}

// Stats counts the keys tracked.
func (s *Store) Stats() StoreStats {
	var st StoreStats
	s.users.each(func(u *userState) {
		st.Users++
		if u.hasProfile {
			st.Profiles++
		}
	})
	st.IPs = s.ips.len()
	st.Devices = s.devices.len()
	return st
}

// haversineKm is the great-circle distance between two points, on a
// sphere of radius 6371 km.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthRadiusKm = 6371
	rad := math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

// table is a hash table split into shards, each with its own lock. Keys
// come with the store's 64-bit hash of them (which the caller has
// already, for the shard): a shard is an open-addressing table of slots
// holding the hash, the key and the value, probed linearly from the
// hash, so a lookup compares hashes in one array and the key once, where
// a Go map would hash the key again and follow its groups.
type table[K comparable, V any] struct {
	shards []tableShard[K, V]
	mask   uint64
}

type tableShard[K comparable, V any] struct {
	mu    sync.Mutex
	slots []tableSlot[K, V] // a power of two long, or none
	n     int               // values held
	_     [24]byte          // keep neighbouring shards' locks off one cache line
}

// tableSlot is one slot of a shard: empty when v is nil.
type tableSlot[K comparable, V any] struct {
	hash uint64
	key  K
	v    *V
}

// Shard sizes: at least minTableSlots slots, grown (doubled) before
// more than 7/8 of them hold values.
const minTableSlots = 8

func newTable[K comparable, V any](shards int) table[K, V] {
	return table[K, V]{shards: make([]tableShard[K, V], shards), mask: uint64(shards - 1)}
}

func (t *table[K, V]) shard(hash uint64) *tableShard[K, V] { return &t.shards[hash&t.mask] }

// slotOf is where the probe for hash starts: bits above those that chose
// the shard.
func slotOf(hash uint64, mask int) int { return int(hash>>24) & mask }

// get returns the value of key (whose hash is hash), or nil.
func (sh *tableShard[K, V]) get(hash uint64, key K) *V {
	if len(sh.slots) == 0 {
		return nil
	}
	mask := len(sh.slots) - 1
	for i := slotOf(hash, mask); ; i = (i + 1) & mask {
		s := &sh.slots[i]
		if s.v == nil {
			return nil
		}
		if s.hash == hash && s.key == key {
			return s.v
		}
	}
}

// put adds key, which the shard does not hold, with its value.
func (sh *tableShard[K, V]) put(hash uint64, key K, v *V) {
	if (sh.n+1)*8 > len(sh.slots)*7 {
		sh.resize(max(minTableSlots, 2*len(sh.slots)))
	}
	sh.place(tableSlot[K, V]{hash: hash, key: key, v: v})
	sh.n++
}

// place puts s in the first empty slot of its probe.
func (sh *tableShard[K, V]) place(s tableSlot[K, V]) {
	mask := len(sh.slots) - 1
	i := slotOf(s.hash, mask)
	for sh.slots[i].v != nil {
		i = (i + 1) & mask
	}
	sh.slots[i] = s
}

// resize moves the values to size slots (none for size 0).
func (sh *tableShard[K, V]) resize(size int) {
	old := sh.slots
	sh.slots = nil
	if size > 0 {
		sh.slots = make([]tableSlot[K, V], size)
	}
	for _, s := range old {
		if s.v != nil {
			sh.place(s)
		}
	}
}

// sweep deletes the values drop reports idle, one shard at a time.
func (t *table[K, V]) sweep(drop func(*V) bool) (removed int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n := 0
		for j := range sh.slots {
			if s := &sh.slots[j]; s.v != nil && drop(s.v) {
				*s = tableSlot[K, V]{}
				n++
			}
		}
		if n > 0 {
			// Emptied slots break the probes past them: place what is
			// left again, in a table sized for it with room to grow.
			sh.n -= n
			size := 0
			if sh.n > 0 {
				size = max(minTableSlots, 1<<bits.Len(uint(2*sh.n-1)))
			}
			sh.resize(size)
			removed += n
		}
		sh.mu.Unlock()
	}
	return removed
}

func (t *table[K, V]) each(fn func(*V)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, s := range sh.slots {
			if s.v != nil {
				fn(s.v)
			}
		}
		sh.mu.Unlock()
	}
}

func (t *table[K, V]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += sh.n
		sh.mu.Unlock()
	}
	return n
}

// UserCounters reports userID's window counters at time at without an
// attempt (status lookups): failures and successes per window,
// consecutive failures and distinct source addresses in the last hour,
// named as the rules name the features. An unknown user has all zeros.
// It implements engine.CounterReader.
func (s *Store) UserCounters(userID string, at time.Time) map[string]float64 {
	t := toEventTime(at)
	var (
		c           windowCounts
		consecutive uint32
		sources     int
	)
	hash := hashString(userID)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	if u := sh.get(hash, userID); u != nil {
		c = u.attempts.counts(t, &s.userWindow, 0)
		consecutive = u.consecutiveFailures
		sources = u.sources.distinct(t, hour)
	}
	sh.mu.Unlock()
	return map[string]float64{
		"user_failures_1m":          float64(c.failures[0]),
		"user_failures_15m":         float64(c.failures[1]),
		"user_failures_1h":          float64(c.failures[2]),
		"user_failures_24h":         float64(c.failures[3]),
		"user_successes_1m":         float64(c.successes[0]),
		"user_successes_15m":        float64(c.successes[1]),
		"user_successes_1h":         float64(c.successes[2]),
		"user_successes_24h":        float64(c.successes[3]),
		"user_consecutive_failures": float64(consecutive),
		"user_distinct_ips_1h":      float64(sources),
	}
}

// IPCounters reports the window counters of addr (an IPv6 address by its
// /64) at time at without an attempt: failures per window, attempts and
// distinct users in the last hour and 10 minutes. It implements
// engine.CounterReader.
func (s *Store) IPCounters(addr netip.Addr, at time.Time) map[string]float64 {
	t := toEventTime(at)
	var (
		c            windowCounts
		users10, u1h int
	)
	if addr.IsValid() {
		key := ipKeyOf(addr)
		hash := hashIPKey(key)
		sh := s.ips.shard(hash)
		sh.mu.Lock()
		if st := sh.get(hash, key); st != nil {
			c = st.attempts.counts(t, &s.ipWindow, 0)
			users10, u1h = st.users.distinct(t, 10*minute), st.users.distinct(t, hour)
		}
		sh.mu.Unlock()
	}
	attempts := c.failures[2] + c.successes[2]
	ratio := 0.0
	if attempts > 0 {
		ratio = float64(c.successes[2]) / float64(attempts)
	}
	return map[string]float64{
		"ip_failures_1m":        float64(c.failures[0]),
		"ip_failures_10m":       float64(c.failures[1]),
		"ip_failures_1h":        float64(c.failures[2]),
		"ip_attempts_1h":        float64(attempts),
		"ip_distinct_users_10m": float64(users10),
		"ip_distinct_users_1h":  float64(u1h),
		"ip_success_ratio_1h":   ratio,
	}
}
