package state

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/schemas"
)

// Trusted contexts and failed second factors: what the store keeps of a
// user besides the windows and the profile, in a userExtra allocated on
// the user's first allowed success or first failed second factor.
//
// A trusted context is a client device_id or a network (IPv4 /24, IPv6
// /64) from which the user had an allowed success (Store.Learn). The
// engine spares trusted contexts from the account-wide user_untrusted
// lock, so that an attacker elsewhere cannot lock the owner out.

// TrustRetention is how long a device or network stays trusted after the
// user's last allowed success with it. The user's whole state also goes
// once its profile is idle for the profile retention (30 days by
// default), whichever comes first.
const TrustRetention = 30 * 24 * time.Hour

// Bounds of a user's extra state: trusted devices and networks (the least
// recently seen makes room for a new one) and the failed second factors
// remembered for user_mfa_failures_15m.
//
// Memory per user that has any (Go heap, size classes included): 64
// bytes for the userExtra, 24 per trusted network, 24 per trusted device
// plus its id, and 80 once the user has a failed second factor in the
// last 15 minutes. A user with one network and one 14-byte device id
// holds about 130 bytes; one at the bounds about 600 bytes plus its 8
// device ids (at most 256 bytes each, as schemas.Validate allows).
// BenchmarkStoreMemory measures it (docs/features-performance.md).
const (
	maxTrustedDevices    = 8
	maxTrustedNetworks   = 8
	maxMFAFailureRecords = 16
)

// mfaWindow is the span of user_mfa_failures_15m, in seconds.
const mfaWindow = 15 * minute

// trustRetentionSeconds is TrustRetention in event-time seconds.
const trustRetentionSeconds = uint32(TrustRetention / time.Second)

// trustedContext is a device id or a network of an allowed success, with
// the event times of the first and the last one.
type trustedContext[K comparable] struct {
	key         K
	first, last uint32
}

// trustedDevice is a client device_id of an allowed success.
type trustedDevice = trustedContext[string]

// trustNetwork is a /24 (the first 3 bytes) or a /64 (the first 8).
type trustNetwork struct {
	prefix [8]byte
	v6     bool
}

// trustNetworkOf returns the network of addr (of the IPv4 address a
// NAT64, 6to4 or Teredo address carries, as the features' network), and
// false for an invalid one.
func trustNetworkOf(addr netip.Addr) (trustNetwork, bool) {
	addr = features.KeyAddr(addr)
	var k trustNetwork
	switch {
	case addr.Is4():
		a := addr.As4()
		copy(k.prefix[:3], a[:3])
	case addr.Is6():
		a := addr.As16()
		copy(k.prefix[:], a[:8])
		k.v6 = true
	default:
		return k, false
	}
	return k, true
}

// String is the network in CIDR notation.
func (k trustNetwork) String() string {
	if !k.v6 {
		return features.PrefixString(netip.PrefixFrom(netip.AddrFrom4([4]byte{k.prefix[0], k.prefix[1], k.prefix[2], 0}), 24))
	}
	var a [16]byte
	copy(a[:8], k.prefix[:])
	return features.PrefixString(netip.PrefixFrom(netip.AddrFrom16(a), 64))
}

// trustedNetwork is a network of an allowed success.
type trustedNetwork = trustedContext[trustNetwork]

// userExtra is a user's trusted contexts and recent failed second factors.
type userExtra struct {
	devices   []trustedDevice
	networks  []trustedNetwork
	mfa       *mfaFailures    // from the first failed second factor
	passwords *passwordMemory // from the first failed check with a password_fp
}

// mfaFailures is a ring of the event times of the last failed second
// factors; 0 is an empty slot.
type mfaFailures struct {
	at   [maxMFAFailureRecords]uint32
	next uint8
}

// trusted reports whether an entry last seen at last is still trusted at
// event time at.
func trusted(last, at uint32) bool {
	return uint64(last)+uint64(trustRetentionSeconds) >= uint64(at)
}

// device returns the trusted entry of the device id, if any, at at.
func (x *userExtra) device(id string, at uint32) (trustedDevice, bool) {
	if x == nil || id == "" {
		return trustedDevice{}, false
	}
	return findTrusted(x.devices, id, at)
}

// network returns the trusted entry of the network, if any, at at.
func (x *userExtra) network(k trustNetwork, ok bool, at uint32) (trustedNetwork, bool) {
	if x == nil || !ok {
		return trustedNetwork{}, false
	}
	return findTrusted(x.networks, k, at)
}

// findTrusted returns the entry of key in list, if it is trusted at at.
func findTrusted[K comparable](list []trustedContext[K], key K, at uint32) (trustedContext[K], bool) {
	for _, c := range list {
		if c.key == key && trusted(c.last, at) {
			return c, true
		}
	}
	return trustedContext[K]{}, false
}

// learnDevice trusts the device id from at on.
func (x *userExtra) learnDevice(id string, at uint32) {
	x.devices = learnTrusted(x.devices, id, at, maxTrustedDevices, strings.Clone)
}

// learnNetwork trusts the network from at on.
func (x *userExtra) learnNetwork(k trustNetwork, at uint32) {
	x.networks = learnTrusted(x.networks, k, at, maxTrustedNetworks, func(k trustNetwork) trustNetwork { return k })
}

// learnTrusted trusts key from at on in list, which holds at most bound
// entries: the least recently seen one makes room for a new key, unless
// it was seen after at. A new key is kept as clone(key), so that list
// holds no memory of the caller's.
func learnTrusted[K comparable](list []trustedContext[K], key K, at uint32, bound int, clone func(K) K) []trustedContext[K] {
	oldest := -1
	for i := range list {
		c := &list[i]
		if c.key == key {
			c.first, c.last = min(c.first, at), max(c.last, at)
			return list
		}
		if oldest < 0 || c.last < list[oldest].last {
			oldest = i
		}
	}
	entry := trustedContext[K]{key: clone(key), first: at, last: at}
	if len(list) < bound {
		return append(list, entry)
	}
	if list[oldest].last <= at {
		list[oldest] = entry
	}
	return list
}

// keepTrusted keeps in place the entries of list trusted at now, and
// clears the slots of the others (dropping their device ids).
func keepTrusted[K comparable](list []trustedContext[K], now uint32) []trustedContext[K] {
	kept := appendTrusted(list[:0], list, now)
	clear(list[len(kept):])
	return kept
}

// mfaFailuresAt counts the failed second factors in (at-15m, at].
func (x *userExtra) mfaFailuresAt(at uint32) int {
	if x == nil || x.mfa == nil {
		return 0
	}
	n := 0
	for _, t := range x.mfa.at {
		if t != 0 && t <= at && t+mfaWindow > at {
			n++
		}
	}
	return n
}

// addMFAFailure remembers a failed second factor at at, over the oldest.
func (x *userExtra) addMFAFailure(at uint32) {
	if x.mfa == nil {
		x.mfa = new(mfaFailures)
	}
	x.mfa.at[x.mfa.next] = at
	x.mfa.next = (x.mfa.next + 1) % maxMFAFailureRecords
}

// compact forgets contexts no longer trusted and failed second factors
// out of their window at now, and reports whether nothing is left.
func (x *userExtra) compact(now uint32) (empty bool) {
	x.devices = keepTrusted(x.devices, now)
	x.networks = keepTrusted(x.networks, now)
	if x.mfa != nil {
		failures := false
		for _, t := range x.mfa.at {
			failures = failures || (t != 0 && t+mfaWindow > now)
		}
		if !failures {
			x.mfa = nil
		}
	}
	if x.passwords != nil && x.passwords.compact(now) {
		x.passwords = nil
	}
	return len(x.devices) == 0 && len(x.networks) == 0 && x.mfa == nil && x.passwords == nil
}

// isMFAFailure reports whether ev is a failed second factor.
func isMFAFailure(ev *schemas.LoginEvent) bool {
	return ev.AuthMethod == "mfa" && !ev.Success()
}

// readExtra fills the trust and second-factor features of the attempt o.
func (u *userState) readExtra(o *observation, f *schemas.Features) {
	_, f.TrustedDevice = u.extra.device(o.deviceID, o.at)
	_, f.TrustedNetwork = u.extra.network(o.network, o.hasAddr, o.at)
	f.UserMFAFailures15m = u.extra.mfaFailuresAt(o.at)
	if o.mfaFailure {
		f.UserMFAFailures15m++
	}
}

// readPasswords fills the user's password fingerprint features of the
// attempt o, and sets o.repeated.
func (u *userState) readPasswords(o *observation, f *schemas.Features) {
	var m *passwordMemory
	if u.extra != nil {
		m = u.extra.passwords
	}
	failed := o.failure && o.hasPassword // a success's fingerprint is never kept
	o.repeated = failed && m.repeated(o.password, o.tag>>1, o.at)
	f.PasswordRepeated = o.repeated
	n := m.distinct(o.at, [2]uint32{hour, day}, o.password, failed)
	f.UserDistinctPasswords1h, f.UserDistinctPasswords24h = n[0], n[1]
}

// updateExtra records a failed second factor of the attempt o, and the
// fingerprint of a failed password check.
func (u *userState) updateExtra(o *observation) {
	failed := o.failure && o.hasPassword
	if !o.mfaFailure && !failed {
		return
	}
	if u.extra == nil {
		u.extra = new(userExtra)
	}
	if o.mfaFailure {
		u.extra.addMFAFailure(o.at)
	}
	if failed {
		if u.extra.passwords == nil {
			u.extra.passwords = new(passwordMemory)
		}
		u.extra.passwords.add(o.password, o.tag>>1, o.at)
	}
}

// Learn records that ev, a success that Observe has recorded with the
// features f, was allowed: it teaches the user's profile (known countries,
// cities, networks, devices, the last success's place and time for travel)
// and trusts its device_id and network. The engine calls it only for
// successes it allowed, so a challenged or refused success teaches
// nothing and its context stays unfamiliar. It does nothing for a
// failure. It implements the Learn of engine.State.
func (s *Store) Learn(ev *schemas.LoginEvent, f *schemas.Features) {
	if !ev.Success() {
		return
	}
	var o observation
	user := schemas.UserKey(ev.TenantID, ev.UserID)
	o.set(ev, user, f)
	sh, u := s.lockUser(user, o.at)
	defer sh.mu.Unlock()
	if u == nil {
		return // a new user refused at the cap
	}
	u.lastSeen = max(u.lastSeen, o.at)
	if !u.hasProfile {
		s.profiles.Add(1)
	}
	p := u.startProfile()
	found := p.lookup(&o.keys)
	if !p.noteFound(&found, missingKinds(&o.keys, &found), o.at) {
		p.noteKeys(&o.keys, o.at)
	}
	if o.at > p.loadedThrough && p.successesTotal < math.MaxUint32 {
		p.successesTotal++
	}
	if o.at >= p.lastSuccessAt {
		p.lastSuccessAt = o.at
		p.lastGeoKnown, p.lastLatitude, p.lastLongitude = o.located, float32(o.latitude), float32(o.longitude)
	}
	s.learnFamiliarity(u, &o)
	if o.deviceID == "" && !o.hasAddr {
		return
	}
	if u.extra == nil {
		u.extra = new(userExtra)
	}
	if o.deviceID != "" {
		u.extra.learnDevice(o.deviceID, o.at)
	}
	if o.hasAddr {
		u.extra.learnNetwork(o.network, o.at)
	}
}

// lockUser locks the shard of user (a user key, schemas.UserKey) and
// returns it with the user's state,
// adding a missing user as Observe does (making room under the users' cap
// at event time at); the state is nil when the cap refuses the new user.
// The caller unlocks the shard.
func (s *Store) lockUser(user string, at uint32) (*tableShard[string, userState], *userState) {
	hash := s.placeString(user)
	sh := s.users.shard(hash)
	sh.mu.Lock()
	u := sh.get(hash, user)
	if u == nil {
		evicted, ok := s.users.makeRoom(sh, func(u *userState) (uint32, bool) { return s.userMayGo(u, at) })
		if !ok {
			return sh, nil
		}
		s.evictedUser(evicted)
		u = new(userState)
		sh.put(hash, strings.Clone(user), u)
	}
	return sh, u
}

// LoadTrustedContext seeds one of the trusted contexts of the user
// (tenantID, userID; "" is the default tenant) from history
// (warm restart): a device_id, or a network in CIDR notation (its /24 or
// /64 is kept), trusted from c.FirstSeen and last seen at c.LastSeen. It
// merges with what the store has; an unknown kind or a network that does
// not parse is skipped. It implements engine.TrustLoader.
func (s *Store) LoadTrustedContext(tenantID, userID string, c schemas.TrustedContext) {
	if userID == "" || c.Key == "" {
		return
	}
	var network trustNetwork
	switch c.Kind {
	case schemas.TrustedDevice:
	case schemas.TrustedNetwork:
		prefix, err := netip.ParsePrefix(c.Key)
		if err != nil {
			return
		}
		var ok bool
		if network, ok = trustNetworkOf(prefix.Addr()); !ok {
			return
		}
	default:
		return
	}
	first, last := toEventTime(c.FirstSeen), toEventTime(c.LastSeen)
	sh, u := s.lockUser(schemas.UserKey(tenantID, userID), last)
	defer sh.mu.Unlock()
	if u == nil {
		return // a new user refused at the cap
	}
	u.lastSeen = max(u.lastSeen, last)
	if u.extra == nil {
		u.extra = new(userExtra)
	}
	for _, at := range [2]uint32{first, last} {
		if c.Kind == schemas.TrustedDevice {
			u.extra.learnDevice(c.Key, at)
		} else {
			u.extra.learnNetwork(network, at)
		}
	}
}

// TrustedContexts lists the devices and networks the user (tenantID,
// userID; "" is the default tenant) is trusted from at
// event time at, with when each was first and last seen in an allowed
// success: devices first, then networks, each most recently seen first.
// It implements engine.TrustReader.
func (s *Store) TrustedContexts(tenantID, userID string, at time.Time) []schemas.TrustedContext {
	t := toEventTime(at)
	user := schemas.UserKey(tenantID, userID)
	hash := s.placeString(user)
	sh := s.users.shard(hash)
	// Copies on the stack (the lists are bounded), so that a lookup
	// allocates only its answer and the networks' names.
	var deviceBuf [maxTrustedDevices]trustedDevice
	var networkBuf [maxTrustedNetworks]trustedNetwork
	devices, networks := deviceBuf[:0], networkBuf[:0]
	sh.mu.Lock()
	if u := sh.get(hash, user); u != nil && u.extra != nil {
		devices = appendTrusted(devices, u.extra.devices, t)
		networks = appendTrusted(networks, u.extra.networks, t)
	}
	sh.mu.Unlock()
	slices.SortStableFunc(devices, func(a, b trustedDevice) int { return cmp.Compare(b.last, a.last) })
	slices.SortStableFunc(networks, func(a, b trustedNetwork) int { return cmp.Compare(b.last, a.last) })
	out := make([]schemas.TrustedContext, 0, len(devices)+len(networks))
	for _, d := range devices {
		out = append(out, schemas.TrustedContext{Kind: schemas.TrustedDevice, Key: d.key, FirstSeen: fromEventTime(d.first), LastSeen: fromEventTime(d.last)})
	}
	for _, n := range networks {
		out = append(out, schemas.TrustedContext{Kind: schemas.TrustedNetwork, Key: n.key.String(), FirstSeen: fromEventTime(n.first), LastSeen: fromEventTime(n.last)})
	}
	return out
}

// fromEventTime is the time of an event-time second (toEventTime).
func fromEventTime(t uint32) time.Time { return time.Unix(int64(t)+epoch2000, 0).UTC() }

// appendTrusted appends to dst the entries of list trusted at at.
func appendTrusted[K comparable](dst, list []trustedContext[K], at uint32) []trustedContext[K] {
	for _, c := range list {
		if trusted(c.last, at) {
			dst = append(dst, c)
		}
	}
	return dst
}
