package enrich

import (
	"errors"
	"fmt"
	"hash/maphash"
	mathbits "math/bits"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/ristretto/v2"
	useragent "github.com/medama-io/go-useragent"
	"github.com/oschwald/geoip2-golang/v2"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// EnricherMetrics counts the enricher's cold-path work. Fields are read
// with Load; Prometheus names are in the comments.
type EnricherMetrics struct {
	// IPCacheMisses counts GeoIP lookups (geoip_cache_misses_total).
	IPCacheMisses atomic.Int64
	// UACacheMisses counts user-agent parses (useragent_cache_misses_total).
	UACacheMisses atomic.Int64
	// LookupErrors counts database lookups that failed, which leaves
	// that database's features unknown (geoip_lookup_errors_total).
	LookupErrors atomic.Int64
}

// Enricher fills the enrichment part of schemas.Features: the attempt
// itself, GeoIP City, ASN and Anonymous-IP data, and the parsed user
// agent. Results are cached per address and per user-agent string, so the
// warm path does not allocate. It is safe for concurrent use.
type Enricher struct {
	city, asn, anon *geoip2.Reader

	ips      *assocCache[ipInfo]
	nets     *ristretto.Cache[uint64, netInfo]
	names    *assocCache[networkName]
	agents   *ristretto.Cache[string, deviceInfo]
	uaParser *useragent.Parser
	uaSeed   maphash.Seed

	interned interner

	// ipv4Lengths and ipv6Lengths are the prefix lengths (of the 16-byte
	// form, 0-128) of the networks cached so far, a bit each, and
	// lastLength the one that answered last: lookupIP tries it first,
	// then the others.
	ipv4Lengths, ipv6Lengths [3]atomic.Uint64
	lastLength               [2]atomic.Int32

	metrics   EnricherMetrics
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// ipInfo is what the databases say about one address, as cached: 64
// bytes, small enough for ristretto to keep inline, with the place and the
// AS shared by every address that has them (interned). It carries the
// address so that a hash collision is a miss, not a wrong answer.
type ipInfo struct {
	addr    netip.Addr
	network string   // features.NetworkOf(addr)
	place   *place   // nil when unknown
	as      *asnInfo // nil when unknown
	flags   ipFlags
}

// netInfo is what the databases say about one network, as cached behind
// the address cache: the longest of the networks the databases return for
// an address, over which every database gives the same answer (a network
// absent from a database counts too). It carries the network so that a
// hash collision is a miss.
type netInfo struct {
	network netip.Addr // the first address, in its 16-byte form
	bits    uint8      // the prefix length of the 16-byte form
	place   *place
	as      *asnInfo
	flags   ipFlags
}

// networkName is the name of an address's /24 or /64 (NetworkOf), cached
// so the warm path does not format it; network is that prefix's first
// address, checked on a hit.
type networkName struct {
	network netip.Addr
	name    string
}

// place is the City part of a GeoIP answer.
type place struct {
	country     string
	subdivision string
	city        string
	timeZone    string
	latitude    float64
	longitude   float64
	accuracyKm  int
}

// asnInfo is the ASN part of a GeoIP answer.
type asnInfo struct {
	number int
	org    string
}

// maxInterned bounds each intern table; past it new records are not
// shared (a real City database has some 10^5 distinct places).
const maxInterned = 1 << 20

// interner shares equal places and ASes between cached addresses. It is
// used on cache misses only.
type interner struct {
	mu     sync.Mutex
	places map[place]*place
	asns   map[asnInfo]*asnInfo
}

func intern[T comparable](mu *sync.Mutex, m map[T]*T, v T) *T {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := m[v]; ok {
		return p
	}
	p := &v
	if len(m) < maxInterned {
		m[v] = p
	}
	return p
}

type ipFlags uint16

const (
	flagAnonKnown ipFlags = 1 << iota
	flagAnonymous
	flagVPN
	flagHosting
	flagPublicProxy
	flagTor
	flagResidentialProxy
)

// geoDB is one optional database: its key and path (database), how to
// check it is of the right type, and where it goes.
type geoDB struct {
	database
	want  string
	probe func(r *geoip2.Reader) error
	dst   **geoip2.Reader
}

// NewEnricher opens the configured databases and builds the caches. A
// file that is missing, unreadable, not a MaxMind database or of the wrong
// type (an ASN database given as City) is an error naming the key
// (geoip.city, …) and the file.
func NewEnricher(cfg EnricherConfig) (*Enricher, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Enricher{
		uaSeed:   maphash.MakeSeed(),
		interned: interner{places: map[place]*place{}, asns: map[asnInfo]*asnInfo{}},
	}
	probe := netip.IPv6Unspecified()
	named := cfg.databases()
	dbs := []geoDB{
		{named[0], "a GeoIP2 or GeoLite2 City (or Country) database", func(r *geoip2.Reader) error { _, err := r.City(probe); return err }, &e.city},
		{named[1], "a GeoLite2 ASN (or GeoIP2 ISP) database", func(r *geoip2.Reader) error { _, err := r.ASN(probe); return err }, &e.asn},
		{named[2], "a GeoIP2 Anonymous-IP database", func(r *geoip2.Reader) error { _, err := r.AnonymousIP(probe); return err }, &e.anon},
	}
	for _, db := range dbs {
		if db.path == "" {
			continue
		}
		r, err := openDB(db)
		if err != nil {
			e.Close()
			return nil, err
		}
		*db.dst = r
	}
	var err error
	e.ips = newAssocCache[ipInfo](cfg.CacheEntries)
	e.nets, err = newCache[uint64, netInfo](cfg.CacheEntries, func(k uint64) (uint64, uint64) { return k, 0 }) // networkKey, checked on a hit
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("features: network cache: %w", err)
	}
	e.names = newAssocCache[networkName](cfg.CacheEntries)
	// Two independent 64-bit hashes: ristretto keeps only these, not the
	// (long) user-agent string.
	e.agents, err = newCache[string, deviceInfo](cfg.CacheEntries, func(s string) (uint64, uint64) { return xxhash.Sum64String(s), maphash.String(e.uaSeed, s) })
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("features: user-agent cache: %w", err)
	}
	e.uaParser = useragent.NewParser()
	return e, nil
}

// newCache is a ristretto cache of entries items of cost one, keyed by
// keyToHash.
func newCache[K ristretto.Key, V any](entries int, keyToHash func(K) (uint64, uint64)) (*ristretto.Cache[K, V], error) {
	return ristretto.NewCache(&ristretto.Config[K, V]{
		NumCounters:        10 * int64(entries),
		MaxCost:            int64(entries),
		BufferItems:        64,
		IgnoreInternalCost: true,
		KeyToHash:          keyToHash,
	})
}

// openDB opens one database and checks its type with a probe lookup, which
// geoip2 refuses on a database of another kind.
func openDB(db geoDB) (*geoip2.Reader, error) {
	r, err := geoip2.Open(db.path)
	if err != nil {
		if r != nil { // opened, but of a type geoip2 does not know
			r.Close()
		}
		return nil, fmt.Errorf("%s %s: %w", db.key, db.path, err)
	}
	if err := db.probe(r); err != nil {
		r.Close()
		var wrongType geoip2.InvalidMethodError
		if errors.As(err, &wrongType) {
			return nil, fmt.Errorf("%s %s: wrong database type %q, want %s", db.key, db.path, wrongType.DatabaseType, db.want)
		}
		return nil, fmt.Errorf("%s %s: reading the database: %w", db.key, db.path, err)
	}
	return r, nil
}

// Metrics returns the enricher's counters.
func (e *Enricher) Metrics() *EnricherMetrics { return &e.metrics }

// Close releases the caches and the databases. It is safe to call twice;
// Enrich must not run concurrently with it.
func (e *Enricher) Close() error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		if e.nets != nil {
			e.nets.Close()
		}
		if e.agents != nil {
			e.agents.Close()
		}
		var errs []error
		for _, r := range []*geoip2.Reader{e.city, e.asn, e.anon} {
			if r != nil {
				errs = append(errs, r.Close())
			}
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// Enrich fills the attempt, GeoIP and device features of f from ev. It
// leaves the behavioural features alone. ev.Addr should be set (Decode and
// Validate set it); when it is not, ev.IP is parsed.
func (e *Enricher) Enrich(ev *schemas.LoginEvent, f *schemas.Features) {
	f.SetEventFeatures(ev)
	if e.closed.Load() {
		return
	}
	addr := ev.Addr
	if !addr.IsValid() {
		addr, _ = schemas.ParseIP(ev.IP)
	}
	if addr.IsValid() {
		info := e.lookupIP(addr)
		info.fill(f)
	}
	dev := e.lookupDevice(ev.UserAgent)
	dev.fill(f)
	if ev.DeviceID != "" {
		f.DeviceKey = ev.DeviceID
		f.HasDeviceID = true
	}
}

// lookupIP returns the cached answer for addr, or builds it from the
// answer for its network.
func (e *Enricher) lookupIP(addr netip.Addr) ipInfo {
	key := keyhash.Addr(addr)
	if info, ok := e.ips.Get(key); ok && info.addr == addr {
		return info
	}
	n := e.lookupNetwork(addr)
	info := ipInfo{addr: addr, network: e.networkName(addr), place: n.place, as: n.as, flags: n.flags}
	e.ips.Set(key, info)
	return info
}

// lookupNetwork returns the cached answer for the network of addr, or
// asks the databases. The cached networks of one address family
// partition its space (each is where the databases' networks containing
// an address meet), so at most one of the prefix lengths seen so far
// finds an entry.
func (e *Enricher) lookupNetwork(addr netip.Addr) netInfo {
	b := addr.As16()
	family := 0
	lengths := &e.ipv6Lengths
	if addr.Is4() {
		family, lengths = 1, &e.ipv4Lengths
	}
	last := int(e.lastLength[family].Load())
	if n, ok := e.cachedNetwork(b, family, last); ok {
		return n
	}
	for w := range lengths {
		for set := lengths[w].Load(); set != 0; set &= set - 1 {
			bits := w*64 + mathbits.TrailingZeros64(set)
			if bits == last {
				continue
			}
			if n, ok := e.cachedNetwork(b, family, bits); ok {
				e.lastLength[family].Store(int32(bits))
				return n
			}
		}
	}
	e.metrics.IPCacheMisses.Add(1)
	n := e.resolveIP(addr)
	lengths[n.bits/64].Or(1 << (n.bits % 64))
	e.lastLength[family].Store(int32(n.bits))
	e.nets.Set(networkKey(n.network.As16(), family, int(n.bits)), n, 1)
	return n
}

// cachedNetwork returns the cached answer for the network of length bits
// (of the 16-byte form b) holding the address, if there is one.
func (e *Enricher) cachedNetwork(b [16]byte, family, bits int) (netInfo, bool) {
	masked := maskBytes(b, bits)
	n, ok := e.nets.Get(networkKey(masked, family, bits))
	return n, ok && int(n.bits) == bits && n.network.As16() == masked
}

// networkKey is the address cache's key of a network.
func networkKey(masked [16]byte, family, bits int) uint64 {
	return keyhash.Mix64(keyhash.Words(masked) + uint64(bits)<<1 + uint64(family))
}

// maskBytes keeps the first bits bits of b.
func maskBytes(b [16]byte, bits int) [16]byte {
	for i := range b {
		switch keep := bits - 8*i; {
		case keep <= 0:
			b[i] = 0
		case keep < 8:
			b[i] &= byte(0xff << (8 - keep))
		}
	}
	return b
}

// networkName returns the name of addr's /24 or /64, cached.
func (e *Enricher) networkName(addr netip.Addr) string {
	p := features.NetworkOf(addr)
	key := keyhash.Network(addr)
	if n, ok := e.names.Get(key); ok && n.network == p.Addr() {
		return n.name
	}
	n := networkName{network: p.Addr(), name: p.String()}
	e.names.Set(key, n)
	return n.name
}

// lengthIn16 is the prefix length, in the 16-byte form of addr, of the
// network p a database returned for addr: 128 (addr alone) when p is not
// valid or does not hold addr. An IPv4 address above a database's IPv4
// subtree comes back as a short IPv6 prefix that holds all of IPv4 (96).
func lengthIn16(addr netip.Addr, p netip.Prefix) int {
	switch {
	case !p.IsValid():
		return 128
	case addr.Is4() && p.Addr().Is4() && p.Contains(addr):
		return 96 + p.Bits()
	case addr.Is4() && p.Addr().Is6() && p.Bits() <= 96 && p.Contains(netip.IPv6Unspecified()):
		return 96
	case addr.Is6() && p.Contains(addr):
		return p.Bits()
	}
	return 128
}

// resolveIP asks every loaded database about addr, and finds the network
// their answers hold for.
func (e *Enricher) resolveIP(addr netip.Addr) netInfo {
	var info netInfo
	// bits is the longest of the databases' networks; with none, the
	// whole family (IPv4 is ::/96 in the 16-byte form).
	bits := 0
	if addr.Is4() {
		bits = 96
	}
	narrow := func(p netip.Prefix) { bits = max(bits, lengthIn16(addr, p)) }
	if e.city != nil {
		if rec, err := e.city.City(addr); err != nil {
			e.metrics.LookupErrors.Add(1)
			narrow(netip.Prefix{}) // this address alone
		} else if narrow(rec.Traits.Network); rec.HasData() {
			pl := place{
				country:    rec.Country.ISOCode,
				city:       rec.City.Names.English,
				timeZone:   rec.Location.TimeZone,
				accuracyKm: int(rec.Location.AccuracyRadius),
			}
			if len(rec.Subdivisions) > 0 {
				pl.subdivision = rec.Subdivisions[0].ISOCode
			}
			if rec.Location.HasCoordinates() {
				pl.latitude, pl.longitude = *rec.Location.Latitude, *rec.Location.Longitude
			}
			info.place = intern(&e.interned.mu, e.interned.places, pl)
		}
	}
	if e.asn != nil {
		if rec, err := e.asn.ASN(addr); err != nil {
			e.metrics.LookupErrors.Add(1)
			narrow(netip.Prefix{})
		} else if narrow(rec.Network); rec.HasData() {
			as := asnInfo{number: int(rec.AutonomousSystemNumber), org: rec.AutonomousSystemOrganization}
			info.as = intern(&e.interned.mu, e.interned.asns, as)
		}
	}
	if e.anon != nil {
		if rec, err := e.anon.AnonymousIP(addr); err != nil {
			e.metrics.LookupErrors.Add(1)
			narrow(netip.Prefix{})
		} else {
			narrow(rec.Network)
			// Absence from the database is a known "not anonymous".
			info.flags |= flagAnonKnown
			for _, fl := range []struct {
				set  bool
				flag ipFlags
			}{
				{rec.IsAnonymousVPN, flagVPN},
				{rec.IsHostingProvider, flagHosting},
				{rec.IsPublicProxy, flagPublicProxy},
				{rec.IsTorExitNode, flagTor},
				{rec.IsResidentialProxy, flagResidentialProxy},
			} {
				if fl.set {
					info.flags |= fl.flag | flagAnonymous
				}
			}
			if rec.IsAnonymous {
				info.flags |= flagAnonymous
			}
		}
	}
	info.bits = uint8(bits)
	info.network = netip.AddrFrom16(maskBytes(addr.As16(), bits))
	return info
}

// fill copies the address features into f.
func (info *ipInfo) fill(f *schemas.Features) {
	f.Network = info.network
	f.IPv6 = info.addr.Is6()
	if pl := info.place; pl != nil {
		f.GeoKnown = true
		f.Country, f.Subdivision, f.City, f.TimeZone = pl.country, pl.subdivision, pl.city, pl.timeZone
		f.Latitude, f.Longitude, f.AccuracyRadiusKm = pl.latitude, pl.longitude, pl.accuracyKm
	} else {
		f.GeoKnown = false
		f.Country, f.Subdivision, f.City, f.TimeZone = "", "", "", ""
		f.Latitude, f.Longitude, f.AccuracyRadiusKm = 0, 0, 0
	}
	if as := info.as; as != nil {
		f.ASNKnown, f.ASN, f.ASOrg = true, as.number, as.org
	} else {
		f.ASNKnown, f.ASN, f.ASOrg = false, 0, ""
	}
	f.AnonKnown = info.flags&flagAnonKnown != 0
	f.Anonymous = info.flags&flagAnonymous != 0
	f.AnonymousVPN = info.flags&flagVPN != 0
	f.Hosting = info.flags&flagHosting != 0
	f.PublicProxy = info.flags&flagPublicProxy != 0
	f.TorExit = info.flags&flagTor != 0
	f.ResidentialProxy = info.flags&flagResidentialProxy != 0
}

// lookupDevice returns the cached description of a user agent, or parses
// it.
func (e *Enricher) lookupDevice(ua string) deviceInfo {
	if d, ok := e.agents.Get(ua); ok {
		return d
	}
	e.metrics.UACacheMisses.Add(1)
	d := parseDevice(e.uaParser, ua)
	e.agents.Set(ua, d, 1)
	return d
}

// fill copies the device features into f; the device key is that of the
// user agent (Enrich replaces it with the device_id when there is one).
func (d *deviceInfo) fill(f *schemas.Features) {
	f.Browser = d.browser
	f.BrowserMajor = d.major
	f.OS = d.os
	f.DeviceType = d.deviceType
	f.Automation = d.automation
	f.DeviceKey = d.key
	f.HasDeviceID = false
}
