package state

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// Crowd state: who succeeds and who fails from an address, its network
// (IPv4 /24, IPv6 /64) and its ASN over a day and a week. It tells a
// shared address (an office or carrier NAT, a campus: many users who
// succeed, a high success ratio) from an attacking one (many users who
// fail, unknown user names, few successes), so that an address lock never
// falls on a crowd. It lives apart from the per-IP windows, which keep an
// hour, in a table of its own.

// Thresholds of a shared address or network (ip_shared, net_shared): at
// least sharedMinUsers distinct users succeeded from it in 7 days, and at
// least sharedMinSuccessRatio of its attempts in 24 hours succeeded. An
// attacker who wants an address he sprays from to pass for shared must
// succeed about as often as he fails, with accounts of his own.
//
// Known devices are a sign of sharing that an attack does not dilute: at
// least sharedMinUsers users who succeeded in 7 days on a device they are
// known to use (a device of their profile: an allowed success with it
// before) make the address shared down to sharedMinKnownDeviceRatio of
// successes, so that an office whose colleagues log in on their own
// laptops stays shared while someone sprays from its NAT. To pass for
// shared that way an attacker must log in with ten accounts of his own
// twice each on one device, and then still succeed one attempt in five.
const (
	sharedMinUsers            = 10
	sharedMinSuccessRatio     = 0.5
	sharedMinKnownDeviceRatio = 0.2
)

// Bounds of the crowd state.
const (
	// crowdSlot is the width of a count bucket: 24 h and 1 h counts are
	// exact to within one slot at their far end.
	crowdSlot = 10 * minute
	// crowdSlots is the number of buckets kept: 24 hours.
	crowdSlots = day / crowdSlot
	// maxCrowdUsers is the number of distinct users a crowd key keeps
	// exactly, per set; a larger crowd counts as maxCrowdUsers.
	maxCrowdUsers = maxSourcesPerKey
	// crowdRetention is how long an idle key is kept when at least two
	// users succeeded from it (its 7-day count matters); others go after
	// a day, with their 24-hour counts.
	crowdRetention      = 7*day + hour
	crowdShortRetention = day + hour
	// maxCrowdASNs caps the crowd keys of ASNs (only hosting and
	// anonymising networks are kept). The other kinds are capped by the
	// store's caps (crowdLimits): a new key beyond its kind's cap takes
	// the place of a crowd that may go (crowdProtect), or is read as
	// empty and not kept, so an address flood cannot grow the table past
	// what the caps promise (StoreStats.CrowdsEvicted, CrowdsRefused).
	maxCrowdASNs = 1 << 20
)

// unknownUserReason is the failure_reason of a login name that does not
// exist: a sign of a list being tried, not of a typo.
const unknownUserReason = "unknown_user"

// crowdKind is what a crowd key stands for.
type crowdKind uint8

const (
	crowdAddress     crowdKind = iota // an IPv4 address or IPv6 /64 (ipKey)
	crowdNetwork                      // an IPv4 /24 (IPv6: the /64, the same as its address)
	crowdASN                          // an autonomous system
	crowdUser                         // an account: its failures over a week
	crowdUserNetwork                  // an account from one network: its failures over a day
	numCrowdKinds
)

// crowdSpec says what a kind of crowd key keeps.
type crowdSpec struct {
	// failedSpan is the window of the set of members that failed (users
	// for a source, networks for a user); 0 for none.
	failedSpan uint32
	// succeededSpan is the window of the set of members that succeeded;
	// 0 for none.
	succeededSpan uint32
	// days keeps failures per day over 7 days besides the 24 hours.
	days bool
	// weekMinFailures: with days, an idle key is kept for the week when
	// its days hold at least this many failures (a network's one-off
	// typo does not keep it a week).
	weekMinFailures uint32
	// knownDevices keeps the members that succeeded on a device they are
	// known to use, over succeededSpan (sources only).
	knownDevices bool
	// minFailures24h: a key of this kind starts only with a failure of a
	// user who has this many failures in 24 hours (user_failures_24h,
	// this one included), so that an account with a typo now and then
	// costs nothing; later successes count. 0: any attempt starts one.
	minFailures24h int
}

var crowdSpecs = [numCrowdKinds]crowdSpec{
	crowdAddress:     {failedSpan: hour, succeededSpan: 7 * day, knownDevices: true},
	crowdNetwork:     {failedSpan: hour, succeededSpan: 7 * day, knownDevices: true, days: true, weekMinFailures: 10},
	crowdASN:         {failedSpan: hour, succeededSpan: 7 * day, days: true, weekMinFailures: 10},
	crowdUser:        {failedSpan: 7 * day, days: true, weekMinFailures: 1, minFailures24h: 2},
	crowdUserNetwork: {days: true, weekMinFailures: 1, minFailures24h: 3},
}

// crowdKey identifies a crowd: its kind and its key bytes.
type crowdKey struct {
	kind crowdKind
	key  [16]byte
}

// crowdBucket counts the attempts of one slot.
type crowdBucket struct {
	slot                uint32 // event time / the slot width
	failures, successes uint32
	unknownUserFailures uint32
}

// crowdState is one crowd key's counts and member sets.
type crowdState struct {
	buckets   []crowdBucket // 10-minute slots, oldest first, the last 24 hours
	days      []crowdBucket // day slots, oldest first, the last 7 days (crowdSpec.days)
	succeeded recentSet     // members who succeeded (crowdSpec.succeededSpan)
	failed    recentSet     // members who failed (crowdSpec.failedSpan)
	// knownDevice: members who succeeded on a known device
	// (crowdSpec.knownDevices).
	knownDevice recentSet
	// Sketches of the sets beyond their 64 exact members, nil until a set
	// overflows (crowd_sketch.go).
	overSucceeded, overFailed *sketchRing
	lastSeen                  uint32
	lastFailure               uint32 // 0: none (crowdProtect)
}

// crowdAttempt is an attempt as a crowd key sees it.
type crowdAttempt struct {
	at          uint32
	failure     bool
	unknownUser bool
	// uncounted: a retried wrong password (password_repeated), read
	// against an account's crowds without being counted or recorded.
	uncounted   bool
	knownDevice bool   // a success on a device the user is known to use
	member      uint32 // the user (for sources) or network (for users) tried
}

// CrowdCounts are a crowd key's features at an attempt, this attempt
// included.
type CrowdCounts struct {
	Failures1h, Failures24h, Attempts24h int
	Attempts1h                           int
	Failures7d, Successes7d              int // crowdSpec.days only
	UnknownUserFailures24h               int
	SuccessRatio1h, SuccessRatio24h      float64
	FailedMembers                        int // in crowdSpec.failedSpan
	SucceededUsers24h, SucceededUsers7d  int
	KnownDeviceUsers7d                   int // crowdSpec.knownDevices only
	Shared                               bool
}

// sumBuckets adds the failures and successes of the buckets of width
// slot seconds in the last n slots before at (the slot of at included),
// and the failures and successes of the last hour.
func sumBuckets(buckets []crowdBucket, at, width, n uint32) (failures, successes, unknown, failures1h, successes1h int) {
	now := at / width
	for i := len(buckets) - 1; i >= 0; i-- {
		b := &buckets[i]
		if b.slot > now {
			continue // a late event: what came after it does not count
		}
		if now-b.slot >= n {
			break
		}
		if now-b.slot < hour/width {
			failures1h += int(b.failures)
			successes1h += int(b.successes)
		}
		failures += int(b.failures)
		successes += int(b.successes)
		unknown += int(b.unknownUserFailures)
	}
	return failures, successes, unknown, failures1h, successes1h
}

// read returns the counts of st at a, including a.
func (st *crowdState) read(spec *crowdSpec, a *crowdAttempt) (c CrowdCounts) {
	var successes24h, successes1h int
	c.Failures24h, successes24h, c.UnknownUserFailures24h, c.Failures1h, successes1h = sumBuckets(st.buckets, a.at, crowdSlot, crowdSlots)
	if spec.days {
		c.Failures7d, c.Successes7d, _, _, _ = sumBuckets(st.days, a.at, day, 7)
	}
	distinct := func(set *recentSet, span uint32, current bool) int {
		switch {
		case span == 0:
			return 0
		case current:
			n, _ := set.count(a.at, [2]uint32{span}, a.member)
			return n[0]
		}
		return set.distinct(a.at, span)
	}
	switch {
	case a.uncounted:
	case a.failure:
		c.Failures1h++
		c.Failures24h++
		c.Failures7d++
		if a.unknownUser {
			c.UnknownUserFailures24h++
		}
	default:
		successes24h++
		successes1h++
		c.Successes7d++
	}
	c.FailedMembers = countBeyond(distinct(&st.failed, spec.failedSpan, a.failure && !a.uncounted), st.overFailed, a.at, spec.failedSpan, 0)
	if spec.succeededSpan != 0 {
		if a.failure {
			c.SucceededUsers24h, c.SucceededUsers7d = st.succeeded.distinct(a.at, day), st.succeeded.distinct(a.at, spec.succeededSpan)
		} else {
			n, _ := st.succeeded.count(a.at, [2]uint32{day, spec.succeededSpan}, a.member)
			c.SucceededUsers24h, c.SucceededUsers7d = n[0], n[1]
		}
		c.SucceededUsers24h = countBeyond(c.SucceededUsers24h, st.overSucceeded, a.at, day, 0)
		c.SucceededUsers7d = countBeyond(c.SucceededUsers7d, st.overSucceeded, a.at, spec.succeededSpan, 1)
	}
	if spec.knownDevices {
		if a.knownDevice {
			n, _ := st.knownDevice.count(a.at, [2]uint32{spec.succeededSpan}, a.member)
			c.KnownDeviceUsers7d = n[0]
		} else {
			c.KnownDeviceUsers7d = st.knownDevice.distinct(a.at, spec.succeededSpan)
		}
	}
	if !spec.days {
		c.Failures7d, c.Successes7d = 0, 0
	}
	c.Attempts24h = c.Failures24h + successes24h
	c.Attempts1h = c.Failures1h + successes1h
	c.SuccessRatio24h = float64(successes24h) / float64(c.Attempts24h)
	c.SuccessRatio1h = float64(successes1h) / float64(c.Attempts1h)
	c.Shared = (c.SucceededUsers7d >= sharedMinUsers && c.SuccessRatio24h >= sharedMinSuccessRatio) ||
		(c.KnownDeviceUsers7d >= sharedMinUsers && c.SuccessRatio24h >= sharedMinKnownDeviceRatio)
	return c
}

// addTo counts a in its bucket of width seconds, keeping n of them.
func addTo(buckets []crowdBucket, a *crowdAttempt, width, n uint32) []crowdBucket {
	slot := a.at / width
	i := len(buckets) - 1
	for i >= 0 && buckets[i].slot > slot {
		i-- // a late event goes to its own slot
	}
	if i < 0 || buckets[i].slot != slot {
		if len(buckets) > 0 && slot+n <= buckets[len(buckets)-1].slot {
			return buckets // older than the counts kept
		}
		buckets = append(buckets, crowdBucket{})
		i++
		copy(buckets[i+1:], buckets[i:])
		buckets[i] = crowdBucket{slot: slot}
	}
	b := &buckets[i]
	if a.failure {
		b.failures++
		if a.unknownUser {
			b.unknownUserFailures++
		}
	} else {
		b.successes++
	}
	return trimBuckets(buckets, buckets[len(buckets)-1].slot, n)
}

// trimBuckets drops the buckets n or more slots before slot.
func trimBuckets(buckets []crowdBucket, slot, n uint32) []crowdBucket {
	expired := 0
	for expired < len(buckets) && buckets[expired].slot+n <= slot {
		expired++
	}
	if expired == 0 {
		return buckets
	}
	return buckets[:copy(buckets, buckets[expired:])]
}

// update records the attempt a.
func (st *crowdState) update(spec *crowdSpec, a *crowdAttempt) {
	st.buckets = addTo(st.buckets, a, crowdSlot, crowdSlots)
	if spec.days {
		st.days = addTo(st.days, a, day, 7)
	}
	switch {
	case a.failure && spec.failedSpan != 0:
		st.failed.add(a.member, a.at, spec.failedSpan, maxCrowdUsers)
		if st.overFailed != nil {
			st.overFailed.insert(a.member, a.at)
		}
	case !a.failure && spec.succeededSpan != 0:
		st.succeeded.add(a.member, a.at, spec.succeededSpan, maxCrowdUsers)
		if st.overSucceeded != nil {
			st.overSucceeded.insert(a.member, a.at)
		}
		if a.knownDevice && spec.knownDevices {
			st.knownDevice.add(a.member, a.at, spec.succeededSpan, maxCrowdUsers)
		}
	}
	st.lastSeen = max(st.lastSeen, a.at)
	if a.failure {
		st.lastFailure = max(st.lastFailure, a.at)
	}
}

// startSketches gives a set that a's member would overflow its ring,
// seeded with its members, while the table's budget of sketched crowds
// lasts.
func (t *crowdTable) startSketches(spec *crowdSpec, st *crowdState, a *crowdAttempt) {
	switch {
	case a.failure && spec.failedSpan != 0 && st.overFailed == nil && full(&st.failed, a.member, a.at, spec.failedSpan):
		if t.reserveSketch(st) {
			st.overFailed = newSketchRing(spec.failedSpan/6, spec.failedSpan, &st.failed)
		}
	case !a.failure && spec.succeededSpan != 0 && st.overSucceeded == nil && full(&st.succeeded, a.member, a.at, spec.succeededSpan):
		if t.reserveSketch(st) {
			st.overSucceeded = newSketchRing(succeededSlotWidth, spec.succeededSpan, &st.succeeded)
		}
	}
}

// reserveSketch counts a crowd that starts its first ring, or refuses
// it at maxSketchedCrowds.
func (t *crowdTable) reserveSketch(st *crowdState) bool {
	if st.overFailed != nil || st.overSucceeded != nil {
		return true // counted with its first ring
	}
	return t.sketches.reserve()
}

// dropSketches frees the rings of st that hold nothing inside their
// windows at now (all of them when all is set).
func (t *crowdTable) dropSketches(spec *crowdSpec, st *crowdState, now uint32, all bool) {
	had := st.overFailed != nil || st.overSucceeded != nil
	if st.overFailed != nil && (all || st.overFailed.stale(now, spec.failedSpan)) {
		st.overFailed = nil
	}
	if st.overSucceeded != nil && (all || st.overSucceeded.stale(now, spec.succeededSpan)) {
		st.overSucceeded = nil
	}
	if had && st.overFailed == nil && st.overSucceeded == nil {
		t.sketches.release()
	}
}

// trim drops what is older than the windows at now.
func (st *crowdState) trim(spec *crowdSpec, now uint32) {
	st.buckets = trimBuckets(st.buckets, now/crowdSlot, crowdSlots)
	st.days = trimBuckets(st.days, now/day, 7)
	if spec.failedSpan != 0 {
		st.failed.compact(now, spec.failedSpan)
	}
	if spec.succeededSpan != 0 {
		st.succeeded.compact(now, spec.succeededSpan)
		st.knownDevice.compact(now, spec.succeededSpan)
	}
}

// keepsWeek reports whether st is kept for crowdRetention when idle at
// now: it holds crowdSpec.weekMinFailures failures of the week
// (crowdSpec.days), or two or more users succeeded from it (its 7-day
// counts matter); else it goes after crowdShortRetention.
func (st *crowdState) keepsWeek(spec *crowdSpec, now uint32) bool {
	if spec.days {
		var failures uint32
		for i := range st.days {
			failures += st.days[i].failures
		}
		if failures >= spec.weekMinFailures {
			return true
		}
	}
	return spec.succeededSpan != 0 && st.succeeded.distinct(now, 7*day) >= 2
}

// crowdTable holds the crowd keys in a table (table.go) per kind, each
// capped by its kind's limit (crowdLimits) and placed by a hash seeded
// per process, so a flood of chosen keys cannot pile onto one shard or
// probe. At a cap, a new key takes the place of the least recently seen
// crowd of a sample of its shard that may go: one without a failure in
// its kind's crowdProtect span (the span over which the rules count a
// crowd's failures to lock); when none may go, it is refused, as in the
// store's other tables.
type crowdTable struct {
	seeds [2]maphash.Seed // of account keys (userKey)
	seed  maphash.Seed    // places ASN keys
	kinds [numCrowdKinds]*table[[16]byte, crowdState]
	// sketches counts the crowds (and addresses) with a sketch ring
	// (crowd_sketch.go).
	sketches *sketchBudget
}

// crowdProtect is, per kind, how long after a failure a crowd may not
// make room for a new one: an hour for addresses, networks and ASNs (the
// hour the network and ASN locks count failures over, as for the
// per-address windows), a day for an account from one network
// (user_network_failures_24h) and a week for an account
// (user_failures_7d). Evicting such a crowd would let a flood of new
// keys wipe the counts a lock is waiting for.
var crowdProtect = [numCrowdKinds]uint32{
	crowdAddress:     hour,
	crowdNetwork:     hour,
	crowdASN:         hour,
	crowdUser:        7 * day,
	crowdUserNetwork: day,
}

// crowdLimits caps each kind of crowd key by the store's cap of the keys
// it stands beside: addresses by max_addresses, networks by
// max_networks, accounts (and account + network) by max_users.
func crowdLimits(caps [NumKeyKinds]int) [numCrowdKinds]int {
	var l [numCrowdKinds]int
	l[crowdAddress] = caps[Addresses]
	l[crowdNetwork] = caps[Networks]
	l[crowdASN] = maxCrowdASNs
	l[crowdUser] = caps[Users]
	l[crowdUserNetwork] = caps[Users]
	return l
}

// newCrowdTable returns an empty crowd table of shards lock shards per
// kind, sharing the store's budget of sketched keys.
func newCrowdTable(shards int, limits [numCrowdKinds]int, sketches *sketchBudget) *crowdTable {
	t := &crowdTable{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, seed: maphash.MakeSeed(), sketches: sketches}
	for kind, limit := range limits {
		t.kinds[kind] = newTable[[16]byte, crowdState](shards, limit)
	}
	return t
}

// apply reads (and, when record, records) the attempt a on key k, whose
// placement hash is hash (seeded, with placedBit: crowdTable.place);
// userFailures24h is the user's user_failures_24h.
func (t *crowdTable) apply(k crowdKey, hash uint64, a *crowdAttempt, userFailures24h int, record bool) CrowdCounts {
	spec := &crowdSpecs[k.kind]
	tab := t.kinds[k.kind]
	sh := tab.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.get(hash, k.key)
	if st == nil {
		starts := spec.minFailures24h == 0 || (a.failure && userFailures24h >= spec.minFailures24h)
		if record && starts && !a.uncounted {
			protect := crowdProtect[k.kind]
			evicted, ok := tab.makeRoom(sh, func(st *crowdState) (uint32, bool) {
				return mayEvict(st.lastSeen, st.lastFailure, a.at, protect)
			})
			if ok {
				if evicted != nil {
					t.dropSketches(spec, evicted, a.at, true)
				}
				st = new(crowdState)
				sh.put(hash, k.key, st)
			}
		}
		if st == nil {
			var empty crowdState
			return empty.read(spec, a)
		}
	}
	c := st.read(spec, a)
	if record && !a.uncounted {
		t.startSketches(spec, st, a)
		st.update(spec, a)
	}
	return c
}

// place is the placement hash of the crowd key k: seeded per process.
// Account keys (userKey) are seeded hashes already; addresses and
// networks are placed as the store places them (Store.placeIP).
func (t *crowdTable) place(k *crowdKey) uint64 {
	return maphash.Comparable(t.seed, k.key) | placedBit
}

// sweep drops the keys idle at now: after crowdRetention when they keep
// a week (a user's failures, or two or more users who succeeded from a
// source), else after crowdShortRetention. Like the store's other
// tables it holds a shard's lock for sweepStep slots at a time.
func (t *crowdTable) sweep(now uint32) (removed int) {
	for kind, tab := range t.kinds {
		spec := &crowdSpecs[kind]
		removed += tab.sweep(func(st *crowdState) bool {
			keep := crowdShortRetention
			if st.keepsWeek(spec, now) {
				keep = crowdRetention
			}
			if int64(st.lastSeen) <= int64(now)-int64(keep) {
				t.dropSketches(spec, st, now, true)
				return true
			}
			st.trim(spec, now)
			t.dropSketches(spec, st, now, false)
			return false
		})
	}
	return removed
}

// len returns the keys held, the new keys refused at the caps and the
// keys evicted to make room.
func (t *crowdTable) len() (n, refused, evicted int64) {
	for _, tab := range t.kinds {
		n += tab.held.Load()
		refused += tab.refused.Load()
		evicted += tab.evicted.Load()
	}
	return n, refused, evicted
}

// applyCrowds fills the features of the attempt o kept per address,
// network and ASN, and per account and account + network over a day and a
// week, and records it when record is set. ASNs are kept for hosting and
// anonymising networks only, where a campaign spreads over a provider's
// addresses; a residential ISP's ASN is millions of households.
func (s *Store) applyCrowds(ev *schemas.LoginEvent, o *observation, f *schemas.Features, record bool) {
	a := crowdAttempt{at: o.at, failure: o.failure, unknownUser: o.failure && ev.FailureReason == unknownUserReason, member: o.userKey,
		knownDevice: !o.failure && f.UserKnown && !f.NewDevice && f.DeviceKey != ""}
	var ip, network, asn, user, userNetwork CrowdCounts
	// An account's own crowds are read for failures and for successes
	// within a day of a failure: they start with failures, and the rules
	// that read them judge failures; the two lookups are saved on the
	// ordinary success.
	accountSide := !o.addressOnly && (o.failure || f.UserFailures24h > 0)
	var userKey [16]byte
	if accountSide {
		userKey = s.crowds.userKey(ev.TenantID, ev.UserID)
	}
	if o.hasAddr {
		ip = s.crowds.apply(crowdKey{kind: crowdAddress, key: o.ipKey}, s.placeIP(o.ipKey), &a, f.UserFailures24h, record)
		nk := o.ipKey
		if isIPv4Key(nk) {
			nk[15] = 0 // the /24
			network = s.crowds.apply(crowdKey{kind: crowdNetwork, key: nk}, s.placeIP(nk), &a, f.UserFailures24h, record)
		} else {
			network = ip // an IPv6 address's key is its /64 already
		}
		networkHash := hashIPKey(nk)
		a.member = uint32(networkHash >> 32)
		if accountSide {
			un := crowdKey{kind: crowdUserNetwork, key: userKey}
			binary.LittleEndian.PutUint64(un.key[8:], networkHash)
			account := a
			account.uncounted = o.repeated // the account's own counts skip a retried password
			userNetwork = s.crowds.apply(un, keyhash.Mix64(networkHash^keyhash.Words(userKey))|placedBit, &account, f.UserFailures24h, record)
		}
	}
	if accountSide {
		account := a
		account.uncounted = o.repeated
		user = s.crowds.apply(crowdKey{kind: crowdUser, key: userKey}, keyhash.Words(userKey)|placedBit, &account, f.UserFailures24h, record)
	}
	if crowdedASN(f) {
		k := crowdKey{kind: crowdASN}
		binary.BigEndian.PutUint32(k.key[:4], uint32(f.ASN))
		a.member = o.userKey
		asn = s.crowds.apply(k, s.crowds.place(&k), &a, f.UserFailures24h, record)
	}
	f.IPFailures24h, f.IPAttempts24h, f.IPSuccessRatio24h = ip.Failures24h, ip.Attempts24h, ip.SuccessRatio24h
	f.IPUnknownUserFailures24h, f.IPFailedUsers1h = ip.UnknownUserFailures24h, ip.FailedMembers
	f.IPSucceededUsers24h, f.IPSucceededUsers7d, f.IPShared = ip.SucceededUsers24h, ip.SucceededUsers7d, ip.Shared
	f.IPKnownDeviceUsers7d, f.NetKnownDeviceUsers7d = ip.KnownDeviceUsers7d, network.KnownDeviceUsers7d
	f.NetFailures1h, f.NetFailures24h, f.NetAttempts24h, f.NetSuccessRatio24h = network.Failures1h, network.Failures24h, network.Attempts24h, network.SuccessRatio24h
	f.NetAttempts1h, f.NetSuccessRatio1h, f.NetFailures7d = network.Attempts1h, network.SuccessRatio1h, network.Failures7d
	f.NetUnknownUserFailures24h, f.NetFailedUsers1h = network.UnknownUserFailures24h, network.FailedMembers
	f.NetSucceededUsers24h, f.NetSucceededUsers7d, f.NetShared = network.SucceededUsers24h, network.SucceededUsers7d, network.Shared
	f.ASNFailures1h, f.ASNFailures24h, f.ASNAttempts24h, f.ASNSuccessRatio24h = asn.Failures1h, asn.Failures24h, asn.Attempts24h, asn.SuccessRatio24h
	f.ASNAttempts1h, f.ASNSuccessRatio1h, f.ASNFailures7d = asn.Attempts1h, asn.SuccessRatio1h, asn.Failures7d
	f.ASNUnknownUserFailures24h, f.ASNFailedUsers1h = asn.UnknownUserFailures24h, asn.FailedMembers
	f.ASNSucceededUsers24h, f.ASNSucceededUsers7d = asn.SucceededUsers24h, asn.SucceededUsers7d
	f.UserFailures7d, f.UserFailedNetworks7d = user.Failures7d, user.FailedMembers
	f.UserNetworkFailures24h = userNetwork.Failures24h
	f.UserNetworkSuccesses24h = userNetwork.Attempts24h - userNetwork.Failures24h
	f.UserNetworkFailures7d, f.UserNetworkSuccesses7d = userNetwork.Failures7d, userNetwork.Successes7d
}

// crowdedASN reports whether the crowd table keeps counts for the ASN
// of f: a hosting or anonymising network.
func crowdedASN(f *schemas.Features) bool {
	return f.ASNKnown && f.ASN != 0 && (f.Hosting || f.Anonymous)
}

// userKey is the key of an account in the crowd table: two hashes of its
// tenant and id under the table's own random seeds, so that nobody can
// choose an id that shares another account's key.
func (t *crowdTable) userKey(tenant, user string) (k [16]byte) {
	for i, seed := range &t.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(tenant)
		h.WriteByte(0)
		h.WriteString(user)
		binary.LittleEndian.PutUint64(k[8*i:], h.Sum64())
	}
	return k
}
