package state

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// Retention is how long the store keeps the windows of a key after its
// last event: the longest window (24 h) plus a margin for late events.
// Sources (IPv4 addresses, IPv6 /64s), whose windows are an hour at most,
// go after 70 minutes idle.
const Retention = 25 * time.Hour

// ipRetention is how long an idle IP is kept: its longest window and a
// margin.
const ipRetention = time.Hour + 10*time.Minute

// Bounds of the per-key state.
const (
	maxUserRecords   = 64 // exact attempt records per user (last 24 h)
	maxIPRecords     = 64 // exact attempt records per IP (last hour)
	maxSourcesPerKey = 64 // distinct sources per user, users per IP, users per device
)

// KeyKind is a kind of key the store holds, each in a table of its own
// with its own cap.
type KeyKind int

// The kinds of keys.
const (
	Users     KeyKind = iota // (tenant, user) identities
	Addresses                // IPv4 addresses
	Networks                 // IPv6 /64 networks (an IPv6 source's key)
	Devices                  // device keys (device_id, or derived from the user agent)
	NumKeyKinds
)

// String returns the kind's name in metrics: user, address, network,
// device.
func (k KeyKind) String() string {
	switch k {
	case Users:
		return "user"
	case Addresses:
		return "address"
	case Networks:
		return "network"
	case Devices:
		return "device"
	}
	return fmt.Sprintf("KeyKind(%d)", int(k))
}

// KeyCounts is a count for each kind of key.
type KeyCounts [NumKeyKinds]int64

// StoreStats counts the keys a Store holds, and what its caps did since
// it started.
type StoreStats struct {
	Keys     KeyCounts // held now
	Profiles int64     // users with a profile (at least one success)
	// Evicted counts keys deleted to make room for a new key at a cap,
	// Refused new keys not tracked because none could go.
	Evicted, Refused KeyCounts
	// Crowds are the keys of the day-and-week crowd counts (crowd.go):
	// addresses, networks, ASNs, accounts and account + network;
	// CrowdsEvicted those deleted to make room at their cap,
	// CrowdsRefused the new ones not kept because none could go.
	Crowds, CrowdsEvicted, CrowdsRefused int64
	// Passwords are the fingerprints of the global table (passwords.go);
	// PasswordsRefused the new ones not followed at its cap.
	Passwords, PasswordsRefused int64
}

// Store is the behavioural state: per-user, per-IP and per-device
// sliding windows and per-user profiles, in sharded tables whose keys
// are placed by a per-process random seed. It is safe for concurrent
// use; see the package documentation for its semantics.
type Store struct {
	cfg     StoreConfig
	seed    maphash.Seed
	users   *table[string, userState]
	ips     [2]*table[ipKey, ipState] // by family: addresses (IPv4), networks (IPv6 /64s)
	devices *table[string, deviceState]

	profiles atomic.Int64 // users with a profile
	crowds   *crowdTable  // addresses, networks and ASNs over a day and a week
	sketches sketchBudget // the keys with HyperLogLog rings (crowd_sketch.go)
	hostile  hostileSet   // networks of confirmed attacks (hostile.go)

	population *population    // every user's verified logins, for familiarity
	passwords  *passwordTable // users per password fingerprint (passwords.go)

	userWindow windowSpec
	ipWindow   windowSpec
}

// userState is one user's windows, sources and profile.
type userState struct {
	attempts            window
	sources             recentSet // IP keys seen in the last hour
	consecutiveFailures uint32
	lastSeen            uint32
	hasProfile          bool   // since a success or LoadProfile
	lastFailure         uint32 // 0: none
	// ownProfile is the profile, in the user's state: reading it follows
	// no pointer to another object (a cache miss on a large population),
	// and a user with a profile, which most have, is one allocation.
	ownProfile profile
	// extra holds trusted contexts and failed second factors, from the
	// first allowed success or failed second factor (trust.go).
	extra *userExtra
	// familiarity is the familiarity model's counts, nil before the
	// first verified login.
	familiarity *familiarity
}

// profile returns the user's profile, or nil before it has one.
func (u *userState) profile() *profile {
	if !u.hasProfile {
		return nil
	}
	return &u.ownProfile
}

// ipState is one IPv4 address's (or IPv6 /64's) windows and users.
type ipState struct {
	attempts    window
	users       recentSet // users tried in the last hour
	lastSeen    uint32
	lastFailure uint32 // 0: none
	// overUsers counts the users beyond the set's 64 (crowd_sketch.go),
	// nil until the set overflows inside its hour.
	overUsers *sketchRing
}

// ipUsersSlot is the width of the slots of an address's ring of users:
// the 10-minute count covers 10 to 20 minutes, the hour's 60 to 70.
const ipUsersSlot = 10 * minute

// deviceState is one device key's users.
type deviceState struct {
	users    recentSet // users seen in the last 24 h
	lastSeen uint32
}

// mayEvict reports whether a key last seen at lastSeen, with its last
// failure at lastFailure (0: none), may make room at time now: no
// failure within protect before now (nor after it, for a late event).
func mayEvict(lastSeen, lastFailure, now, protect uint32) (uint32, bool) {
	return lastSeen, lastFailure == 0 || int64(lastFailure) <= int64(now)-int64(protect)
}

// startProfile returns the user's profile, starting it if need be.
func (u *userState) startProfile() *profile {
	u.hasProfile = true
	return &u.ownProfile
}

// NewStore returns an empty store.
func NewStore(cfg StoreConfig) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	caps := cfg.caps()
	s := &Store{
		cfg:        cfg,
		seed:       maphash.MakeSeed(),
		users:      newTable[string, userState](cfg.Shards, caps[Users]),
		ips:        [2]*table[ipKey, ipState]{newTable[ipKey, ipState](cfg.Shards, caps[Addresses]), newTable[ipKey, ipState](cfg.Shards, caps[Networks])},
		devices:    newTable[string, deviceState](cfg.Shards, caps[Devices]),
		crowds:     nil, // below: it shares the store's sketch budget
		population: newPopulation(cfg.SketchSeed),
		passwords:  newPasswordTable(DefaultMaxPasswords),
		userWindow: newWindowSpec(day, maxUserRecords, 15*minute, minute, 15*minute, hour, day),
		ipWindow:   newWindowSpec(hour, maxIPRecords, 0, minute, 10*minute, hour),
	}
	s.crowds = newCrowdTable(cfg.Shards, crowdLimits(caps), &s.sketches)
	return s, nil
}

// placeString and placeIP are the hashes that place keys in the tables:
// seeded per process, so that no one can choose keys that share a shard
// or a probe. The store's fixed hashes (hashString, hashIPKey) give the
// values that must be the same in every process (distinct-set keys,
// profile values, network tags) and never place a key.
func (s *Store) placeString(key string) uint64 { return maphash.String(s.seed, key) | placedBit }

func (s *Store) placeIP(key ipKey) uint64 { return maphash.Comparable(s.seed, key) | placedBit }

// ipTable returns the table of key's family.
func (s *Store) ipTable(key ipKey) *table[ipKey, ipState] {
	if isIPv4Key(key) {
		return s.ips[0]
	}
	return s.ips[1]
}

// isIPv4Key reports whether key is an IPv4 address (in its IPv4-mapped
// form).
func isIPv4Key(key ipKey) bool {
	return key[10] == 0xff && key[11] == 0xff && [10]byte(key[:10]) == [10]byte{}
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
	deviceID   string       // the client's device_id, for trusted devices
	network    trustNetwork // for trusted networks, when hasAddr
	mfaFailure bool         // a failed second factor
	// password is the first 8 bytes of the password_fp of a password
	// check (hasPassword); repeated is set by the user's read when the
	// check failed and the user failed with it from the same network
	// within a day.
	password    uint64
	hasPassword bool
	repeated    bool
	keys        profileKeys
	fam         famKeys   // the familiarity model's keys
	found       entryRefs // where read found keys in the user's profile
	missing     uint8     // the kinds of keys it did not find (missingKinds)
	// The attempt's location, when usable for travel.
	located   bool
	latitude  float64
	longitude float64

	// addressOnly: another instance's attempt (ObserveAddress), counted
	// for its address, network and ASN only.
	addressOnly bool
}

func newObservation(ev *schemas.LoginEvent, f *schemas.Features) observation {
	var o observation
	o.set(ev, schemas.UserKey(ev.TenantID, ev.UserID), f)
	return o
}

// set fills o from the attempt ev and its enrichment f (in place: an
// observation is too large to copy on every event); user is the
// attempt's user key (schemas.UserKey).
func (o *observation) set(ev *schemas.LoginEvent, user string, f *schemas.Features) {
	*o = observation{
		at:         toEventTime(ev.OccurredAt),
		failure:    !ev.Success(),
		userHash:   keyhash.String(user),
		deviceID:   ev.DeviceID,
		mfaFailure: isMFAFailure(ev),
	}
	o.password, o.hasPassword = ev.PasswordFingerprint()
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
		o.network, _ = trustNetworkOf(addr)
		networkHash = keyhash.Network(addr)
		o.keys[kindNetwork] = newProfileKey(networkHash)
	}
	o.tag = makeTag(networkHash, o.failure)
	if f.GeoKnown && f.Country != "" {
		countryHash := keyhash.String(f.Country)
		o.keys[kindCountry] = newProfileKey(countryHash)
		if f.City != "" {
			o.keys[kindCity] = newProfileKey(hashCity(countryHash, f.City))
		}
	}
	if f.ASNKnown && f.ASN != 0 {
		o.keys[kindASN] = newProfileKey(keyhash.Mix64(uint64(f.ASN)))
	}
	if f.DeviceKey != "" {
		o.deviceHash = keyhash.String(f.DeviceKey)
		o.keys[kindDevice] = newProfileKey(o.deviceHash)
	}
	o.setFamKeys(ev, f)
	// (0, 0) is where a record without coordinates lands, not a place.
	if f.GeoKnown && (f.Latitude != 0 || f.Longitude != 0) {
		o.located, o.latitude, o.longitude = true, f.Latitude, f.Longitude
	}
}

// apply is Observe (record) and Peek (!record): each key's features are
// read, then the attempt recorded, under that key's lock.
func (s *Store) apply(ev *schemas.LoginEvent, f *schemas.Features, record bool) {
	// A user is a tenant's user; addresses and devices are global, so one
	// address attacking two tenants is one attacker.
	user := schemas.UserKey(ev.TenantID, ev.UserID)
	var o observation
	o.set(ev, user, f)
	s.applyUser(user, &o, f, record)
	s.applyIP(&o, f, record)
	s.applyDevice(f.DeviceKey, &o, f, record)
	s.applyCrowds(ev, &o, f, record)
	f.PasswordDistinctUsers1h = 0
	if o.hasPassword {
		f.PasswordDistinctUsers1h = s.passwords.apply(o.password, o.userKey, o.at, o.failure, record)
	}
	f.NetworkHostile = false
	if o.hasAddr && s.hostile.n.Load() > 0 {
		addr := ev.Addr
		if !addr.IsValid() {
			addr, _ = schemas.ParseIP(ev.IP)
		}
		f.NetworkHostile = s.hostile.has(features.NetworkOf(addr), o.at)
	}
}

// userMayGo reports when u was last seen, and whether it may make room
// for a new user at now.
func (s *Store) userMayGo(u *userState, now uint32) (uint32, bool) {
	return mayEvict(u.lastSeen, u.lastFailure, now, s.userWindow.horizon)
}

// evictedUser accounts for a user deleted to make room (nil for none).
func (s *Store) evictedUser(u *userState) {
	if u != nil && u.hasProfile {
		s.profiles.Add(-1)
	}
}

func (s *Store) applyUser(user string, o *observation, f *schemas.Features, record bool) {
	// Unlocked by defer although a deferred call costs about 25
	// instructions here: a panic under the lock (a bug, recovered by
	// net/http for a score request) must not leave the shard locked
	// and every later event of its users waiting for ever.
	hash := s.placeString(user)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(hash, user)
	if u == nil && record {
		if evicted, ok := s.users.makeRoom(sh, func(u *userState) (uint32, bool) { return s.userMayGo(u, o.at) }); ok {
			s.evictedUser(evicted)
			u = new(userState)
			sh.put(hash, strings.Clone(user), u)
		}
	}
	if u == nil {
		// Peek of an unknown user, or a new user refused at the cap:
		// read an empty state on the stack (only read may see it, so
		// that it does not escape).
		var unknown userState
		unknown.read(o, &s.userWindow, f)
		s.readFamiliarity(nil, o, f)
		return
	}
	u.read(o, &s.userWindow, f)
	s.readFamiliarity(u, o, f)
	if record {
		hadProfile := u.hasProfile
		u.update(o, &s.userWindow)
		if !hadProfile && u.hasProfile {
			s.profiles.Add(1)
		}
	}
}

// read fills the per-user features of the attempt o.
func (u *userState) read(o *observation, spec *windowSpec, f *schemas.Features) {
	u.readPasswords(o, f)
	// A retried wrong password (o.repeated) is not counted again.
	counted := !o.repeated
	c := u.attempts.counts(o.at, spec, o.tag)
	if counted {
		c.addCurrent(o.failure, spec)
	}
	if o.failure && counted {
		c.networkFailures++
	}
	f.UserFailures1m, f.UserFailures15m, f.UserFailures1h, f.UserFailures24h = c.failures[0], c.failures[1], c.failures[2], c.failures[3]
	f.UserSuccesses1m, f.UserSuccesses15m, f.UserSuccesses1h, f.UserSuccesses24h = c.successes[0], c.successes[1], c.successes[2], c.successes[3]
	f.UserNetworkFailures15m = c.networkFailures
	f.UserConsecutiveFailures = 0
	if o.failure {
		f.UserConsecutiveFailures = int(u.consecutiveFailures)
		if counted {
			f.UserConsecutiveFailures++
		}
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
	u.readExtra(o, f)
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

// update records the attempt o in the windows. It does not teach the
// profile: only an allowed success does, through Learn.
func (u *userState) update(o *observation, spec *windowSpec) {
	if !o.repeated {
		u.attempts.add(attempt{at: o.at, tag: o.tag}, spec)
	}
	if o.hasAddr {
		u.sources.addAt(o.sourceAt, o.sourceKey, o.at, hour, maxSourcesPerKey)
	}
	u.lastSeen = max(u.lastSeen, o.at)
	u.updateExtra(o)
	if o.failure {
		u.lastFailure = max(u.lastFailure, o.at)
		if !o.repeated && u.consecutiveFailures < math.MaxUint32 {
			u.consecutiveFailures++
		}
		return
	}
	u.consecutiveFailures = 0
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
	t := s.ipTable(o.ipKey)
	hash := s.placeIP(o.ipKey)
	sh := t.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(hash, o.ipKey)
	if st == nil && record {
		if evicted, ok := t.makeRoom(sh, func(st *ipState) (uint32, bool) {
			return mayEvict(st.lastSeen, st.lastFailure, o.at, s.ipWindow.horizon)
		}); ok {
			s.dropUserSketch(evicted)
			st = new(ipState)
			sh.put(hash, o.ipKey, st)
		}
	}
	if st == nil {
		var unknown ipState // as for users: on the stack
		unknown.read(o, &s.ipWindow, f)
		return
	}
	at := st.read(o, &s.ipWindow, f)
	if record {
		st.attempts.add(attempt{at: o.at, tag: makeTag(0, o.failure)}, &s.ipWindow)
		if st.overUsers == nil && full(&st.users, o.userKey, o.at, hour) && s.sketches.reserve() {
			st.overUsers = newSketchRing(ipUsersSlot, hour, &st.users)
		}
		if st.overUsers != nil {
			st.overUsers.insert(o.userKey, o.at)
		}
		st.users.addAt(at, o.userKey, o.at, hour, maxSourcesPerKey)
		st.lastSeen = max(st.lastSeen, o.at)
		if o.failure {
			st.lastFailure = max(st.lastFailure, o.at)
		}
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
	f.IPDistinctUsers10m = countBeyond(users[0], st.overUsers, o.at, 10*minute, 0)
	f.IPDistinctUsers1h = countBeyond(users[1], st.overUsers, o.at, hour, 1)
	return at
}

// dropUserSketch frees the ring of users of st (nil: none) and its place
// in the sketch budget.
func (s *Store) dropUserSketch(st *ipState) {
	if st != nil && st.overUsers != nil {
		st.overUsers = nil
		s.sketches.release()
	}
}

func (s *Store) applyDevice(deviceKey string, o *observation, f *schemas.Features, record bool) {
	if deviceKey == "" {
		f.DeviceDistinctUsers24h = 0
		return
	}
	hash := s.placeString(deviceKey)
	sh := s.devices.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(hash, deviceKey)
	if st == nil && record {
		// A device has no failures to protect: its set of users only.
		if _, ok := s.devices.makeRoom(sh, func(st *deviceState) (uint32, bool) { return st.lastSeen, true }); ok {
			st = new(deviceState)
			sh.put(hash, strings.Clone(deviceKey), st)
		}
	}
	if st == nil {
		var unknown deviceState // as for users: on the stack
		unknown.read(o, f)
		return
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

// LoadProfile seeds the profile of the user (p.TenantID, p.UserID) from
// history (warm restart). It
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
	user := schemas.UserKey(p.TenantID, p.UserID)
	hash := s.placeString(user)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	u := sh.get(hash, user)
	if u == nil {
		evicted, ok := s.users.makeRoom(sh, func(u *userState) (uint32, bool) { return s.userMayGo(u, at) })
		if !ok {
			return // counted as refused
		}
		s.evictedUser(evicted)
		u = new(userState)
		sh.put(hash, strings.Clone(user), u)
	}
	if !u.hasProfile {
		s.profiles.Add(1)
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
	s.loadFamiliarity(u, entries, int(total), at)
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
		add(kindCountry, keyhash.String(c))
	}
	for _, c := range p.Cities {
		country, city, _ := strings.Cut(c, "/")
		add(kindCity, hashCity(keyhash.String(country), city))
	}
	for _, a := range p.ASNs {
		add(kindASN, keyhash.Mix64(uint64(a)))
	}
	for _, d := range p.Devices {
		add(kindDevice, keyhash.String(d))
	}
	for _, n := range p.Networks {
		if prefix, err := netip.ParsePrefix(n); err == nil {
			add(kindNetwork, keyhash.Network(prefix.Addr().Unmap()))
		} else if addr, err := schemas.ParseIP(n); err == nil {
			add(kindNetwork, keyhash.Network(addr))
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
// time. It holds a shard's lock for a bounded number of keys at a time.
func (s *Store) Sweep(now time.Time) (removed int) {
	t := toEventTime(now)
	idle := func(lastSeen uint32, d time.Duration) bool {
		return int64(lastSeen) <= int64(t)-int64(d/time.Second)
	}
	removed += s.users.sweep(func(u *userState) bool {
		if u.extra != nil && u.extra.compact(t) {
			u.extra = nil
		}
		if idle(u.lastSeen, Retention) {
			u.attempts = window{}
			u.sources = recentSet{}
			drop := !u.hasProfile || idle(u.lastSeen, s.cfg.ProfileRetention)
			if drop && u.hasProfile {
				s.profiles.Add(-1)
			}
			return drop
		}
		u.attempts.compact(t, &s.userWindow)
		u.sources.compact(t, hour)
		return false
	})
	for _, ips := range s.ips {
		removed += ips.sweep(func(st *ipState) bool {
			if idle(st.lastSeen, ipRetention) {
				s.dropUserSketch(st)
				return true
			}
			st.attempts.compact(t, &s.ipWindow)
			st.users.compact(t, hour)
			if st.overUsers != nil && st.overUsers.stale(t, hour) {
				s.dropUserSketch(st)
			}
			return false
		})
	}
	removed += s.devices.sweep(func(st *deviceState) bool {
		return st.users.compact(t, day) || idle(st.lastSeen, Retention)
	})
	removed += s.crowds.sweep(t)
	removed += s.hostile.sweep(t)
	removed += s.passwords.sweep(t)
	return removed
}

// Stats counts the keys held and what the caps did, without taking the
// shards' locks.
func (s *Store) Stats() StoreStats {
	var st StoreStats
	st.Profiles = s.profiles.Load()
	count := func(kind KeyKind, held, evicted, refused *atomic.Int64) {
		st.Keys[kind], st.Evicted[kind], st.Refused[kind] = held.Load(), evicted.Load(), refused.Load()
	}
	count(Users, &s.users.held, &s.users.evicted, &s.users.refused)
	count(Addresses, &s.ips[0].held, &s.ips[0].evicted, &s.ips[0].refused)
	count(Networks, &s.ips[1].held, &s.ips[1].evicted, &s.ips[1].refused)
	count(Devices, &s.devices.held, &s.devices.evicted, &s.devices.refused)
	st.Crowds, st.CrowdsRefused, st.CrowdsEvicted = s.crowds.len()
	st.Passwords, st.PasswordsRefused = s.passwords.held.Load(), s.passwords.refused.Load()
	return st
}

// Caps returns the cap on each kind of key.
func (s *Store) Caps() KeyCounts {
	var c KeyCounts
	for kind, n := range s.cfg.caps() {
		c[kind] = int64(n)
	}
	return c
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

// UserCounters reports the window counters of the user (tenantID,
// userID) at time at without an attempt (status lookups): failures and successes per window,
// consecutive failures and distinct source addresses in the last hour,
// named as the rules name the features. An unknown user has all zeros.
// It implements engine.CounterReader.
func (s *Store) UserCounters(tenantID, userID string, at time.Time) schemas.Counters {
	t := toEventTime(at)
	var (
		c           windowCounts
		consecutive uint32
		sources     int
	)
	user := schemas.UserKey(tenantID, userID)
	hash := s.placeString(user)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	if u := sh.get(hash, user); u != nil {
		c = u.attempts.counts(t, &s.userWindow, 0)
		consecutive = u.consecutiveFailures
		sources = u.sources.distinct(t, hour)
	}
	sh.mu.Unlock()
	return schemas.Counters{ // by name, as schemas.Counters are
		{Name: "user_consecutive_failures", Value: float64(consecutive)},
		{Name: "user_distinct_ips_1h", Value: float64(sources)},
		{Name: "user_failures_15m", Value: float64(c.failures[1])},
		{Name: "user_failures_1h", Value: float64(c.failures[2])},
		{Name: "user_failures_1m", Value: float64(c.failures[0])},
		{Name: "user_failures_24h", Value: float64(c.failures[3])},
		{Name: "user_successes_15m", Value: float64(c.successes[1])},
		{Name: "user_successes_1h", Value: float64(c.successes[2])},
		{Name: "user_successes_1m", Value: float64(c.successes[0])},
		{Name: "user_successes_24h", Value: float64(c.successes[3])},
	}
}

// IPCounters reports the window counters of addr (an IPv6 address by its
// /64) at time at without an attempt: failures per window, attempts and
// distinct users in the last hour and 10 minutes. It implements
// engine.CounterReader.
func (s *Store) IPCounters(addr netip.Addr, at time.Time) schemas.Counters {
	t := toEventTime(at)
	var (
		c            windowCounts
		users10, u1h int
	)
	if addr.IsValid() {
		key := ipKeyOf(addr)
		hash := s.placeIP(key)
		sh := s.ipTable(key).shard(hash)
		sh.mu.Lock()
		if st := sh.get(hash, key); st != nil {
			c = st.attempts.counts(t, &s.ipWindow, 0)
			users10 = countBeyond(st.users.distinct(t, 10*minute), st.overUsers, t, 10*minute, 0)
			u1h = countBeyond(st.users.distinct(t, hour), st.overUsers, t, hour, 1)
		}
		sh.mu.Unlock()
	}
	attempts := c.failures[2] + c.successes[2]
	ratio := 0.0
	if attempts > 0 {
		ratio = float64(c.successes[2]) / float64(attempts)
	}
	return schemas.Counters{ // by name, as schemas.Counters are
		{Name: "ip_attempts_1h", Value: float64(attempts)},
		{Name: "ip_distinct_users_10m", Value: float64(users10)},
		{Name: "ip_distinct_users_1h", Value: float64(u1h)},
		{Name: "ip_failures_10m", Value: float64(c.failures[1])},
		{Name: "ip_failures_1h", Value: float64(c.failures[2])},
		{Name: "ip_failures_1m", Value: float64(c.failures[0])},
		{Name: "ip_success_ratio_1h", Value: ratio},
	}
}
