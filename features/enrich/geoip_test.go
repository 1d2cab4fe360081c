package enrich

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/features/internal/netdata"
	"github.com/loginrisk/loginrisk/schemas"
)

// The generated test databases (go generate ./features/enrich).
var (
	testCityDB = filepath.Join("..", "..", "testdata", "geoip", "City-Test.mmdb")
	testASNDB  = filepath.Join("..", "..", "testdata", "geoip", "ASN-Test.mmdb")
	testAnonDB = filepath.Join("..", "..", "testdata", "geoip", "Anonymous-IP-Test.mmdb")
	testSource = filepath.Join("..", "..", "testdata", "geoip", "networks.yaml")
)

var (
	testEvent = featuretest.Event
	t0        = featuretest.T0
)

func newTestEnricher(t testing.TB) *Enricher {
	t.Helper()
	e, err := NewEnricher(EnricherConfig{CityPath: testCityDB, ASNPath: testASNDB, AnonymousPath: testAnonDB})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestEnrichPlaces checks hand-written expectations for addresses of the
// test databases, IPv4 and IPv6, in several cities and attack networks.
func TestEnrichPlaces(t *testing.T) {
	type place struct {
		country, subdivision, city, timeZone string
		lat, lon                             float64
		radius                               int
	}
	london := place{"GB", "ENG", "London", "Europe/London", 51.5074, -0.1278, 20}
	sf := place{"US", "CA", "San Francisco", "America/Los_Angeles", 37.7749, -122.4194, 5}
	tokyo := place{"JP", "13", "Tokyo", "Asia/Tokyo", 35.6762, 139.6503, 10}
	saoPaulo := place{"BR", "SP", "São Paulo", "America/Sao_Paulo", -23.5505, -46.6333, 10}
	lagos := place{"NG", "LA", "Lagos", "Africa/Lagos", 6.5244, 3.3792, 20}
	newYork := place{"US", "NY", "New York", "America/New_York", 40.7128, -74.0060, 5}
	frankfurt := place{"DE", "HE", "Frankfurt am Main", "Europe/Berlin", 50.1109, 8.6821, 50}
	amsterdam := place{"NL", "NH", "Amsterdam", "Europe/Amsterdam", 52.3676, 4.9041, 100}
	warsaw := place{"PL", "14", "Warsaw", "Europe/Warsaw", 52.2297, 21.0122, 100}
	germany := place{"DE", "", "", "Europe/Berlin", 51.2993, 9.4910, 1000}
	tests := []struct {
		name    string
		ip      string
		network string
		place   *place // nil: not in the City database
		asn     int
		org     string
		flags   ipFlags // anonymous flags expected (flagAnonymous implied by any)
	}{
		{"London IPv4", "81.2.69.160", "81.2.69.0/24", &london, 64601, "Thameslink Broadband", 0},
		{"London IPv6", "2a02:8010:6c1e::15", "2a02:8010:6c1e::/64", &london, 64601, "Thameslink Broadband", 0},
		{"San Francisco IPv4", "73.162.88.19", "73.162.88.0/24", &sf, 64632, "Bay Area Broadband", 0},
		{"Tokyo IPv6", "240b:10:2c0:1::5", "240b:10:2c0:1::/64", &tokyo, 64641, "Kanto Hikari Net", 0},
		{"São Paulo IPv6", "2804:14c:65c0:8::66", "2804:14c:65c0:8::/64", &saoPaulo, 64661, "Paulista Telecom", 0},
		{"Lagos IPv4", "102.88.54.21", "102.88.54.0/24", &lagos, 64681, "Lagoon Networks", 0},
		{"IPv4-mapped IPv6 is unmapped", "::ffff:81.2.69.160", "81.2.69.0/24", &london, 64601, "Thameslink Broadband", 0},
		{"hosting IPv4", "45.33.4.10", "45.33.4.0/24", &frankfurt, 64701, "Nimbus Cloud", flagHosting},
		{"hosting IPv6", "2a0e:97c0:1a::10", "2a0e:97c0:1a::/64", &frankfurt, 64701, "Nimbus Cloud", flagHosting},
		{"VPN", "89.187.170.5", "89.187.170.0/24", &amsterdam, 64721, "Tunnelly VPN", flagVPN | flagHosting},
		{"public proxy", "91.219.237.77", "91.219.237.0/24", &warsaw, 64731, "OpenRelay Hosting", flagPublicProxy},
		{"Tor exit IPv4", "185.220.101.4", "185.220.101.0/24", &germany, 64741, "Onion Relay Association", flagTor},
		{"Tor exit IPv6", "2a0b:f4c0:1c0::4", "2a0b:f4c0:1c0::/64", &germany, 64741, "Onion Relay Association", flagTor},
		{"residential proxy inside New York", "67.80.241.9", "67.80.241.0/24", &newYork, 64631, "Hudson Cable", flagResidentialProxy},
		{"not in any database", "8.8.4.4", "8.8.4.0/24", nil, 0, "", 0},
		{"IPv6 not in any database", "2606:4700::1111", "2606:4700::/64", nil, 0, "", 0},
	}
	e := newTestEnricher(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f schemas.Features
			e.Enrich(testEvent(t, "alice", tt.ip, true, t0), &f)
			if f.Network != tt.network || f.IPv6 != strings.Contains(tt.network, ":") {
				t.Errorf("network %q ipv6 %v, want %q", f.Network, f.IPv6, tt.network)
			}
			if tt.place == nil {
				if f.GeoKnown || f.Country != "" || f.City != "" {
					t.Errorf("geo %v %q %q, want unknown", f.GeoKnown, f.Country, f.City)
				}
			} else {
				p := tt.place
				got := place{f.Country, f.Subdivision, f.City, f.TimeZone, f.Latitude, f.Longitude, f.AccuracyRadiusKm}
				if !f.GeoKnown || got != *p {
					t.Errorf("geo known=%v %+v, want %+v", f.GeoKnown, got, *p)
				}
			}
			if f.ASNKnown != (tt.asn != 0) || f.ASN != tt.asn || f.ASOrg != tt.org {
				t.Errorf("asn known=%v %d %q, want %d %q", f.ASNKnown, f.ASN, f.ASOrg, tt.asn, tt.org)
			}
			gotFlags := ipFlags(0)
			for _, fl := range []struct {
				set  bool
				flag ipFlags
			}{{f.AnonymousVPN, flagVPN}, {f.Hosting, flagHosting}, {f.PublicProxy, flagPublicProxy}, {f.TorExit, flagTor}, {f.ResidentialProxy, flagResidentialProxy}} {
				if fl.set {
					gotFlags |= fl.flag
				}
			}
			if !f.AnonKnown || gotFlags != tt.flags || f.Anonymous != (tt.flags != 0) {
				t.Errorf("anon known=%v anonymous=%v flags %b, want flags %b", f.AnonKnown, f.Anonymous, gotFlags, tt.flags)
			}
		})
	}
}

// TestEnrichEverySample resolves the sample address of every network of
// the source file and compares with what the file says.
func TestEnrichEverySample(t *testing.T) {
	src, err := netdata.Load(testSource)
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnricher(t)
	for _, n := range src.Networks {
		t.Run(n.Label+" "+n.Sample.String(), func(t *testing.T) {
			var f schemas.Features
			e.Enrich(testEvent(t, "bob", n.Sample.String(), false, t0), &f)
			want := src.Resolve(n.Sample)
			if want.Location == nil {
				t.Fatalf("sample %s has no location in the source", n.Sample)
			}
			l := want.Location
			if !f.GeoKnown || f.Country != l.Country || f.City != l.City || f.Subdivision != l.Subdivision ||
				f.TimeZone != l.TimeZone || f.AccuracyRadiusKm != int(l.AccuracyRadius) ||
				math.Abs(f.Latitude-l.Latitude) > 1e-9 || math.Abs(f.Longitude-l.Longitude) > 1e-9 {
				t.Errorf("got %s/%s/%s %s %.4f,%.4f r%d; want %+v", f.Country, f.Subdivision, f.City, f.TimeZone, f.Latitude, f.Longitude, f.AccuracyRadiusKm, *l)
			}
			if f.ASN != int(want.ASN) || f.ASOrg != want.ASOrg {
				t.Errorf("asn %d %q, want %d %q", f.ASN, f.ASOrg, want.ASN, want.ASOrg)
			}
			flags := map[string]bool{
				"anonymous_vpn": f.AnonymousVPN, "hosting_provider": f.Hosting, "public_proxy": f.PublicProxy,
				"tor_exit_node": f.TorExit, "residential_proxy": f.ResidentialProxy,
			}
			for name, got := range flags {
				if got != slices.Contains(want.Anonymous, name) {
					t.Errorf("%s = %v, want %v", name, got, !got)
				}
			}
			if f.Anonymous != (len(want.Anonymous) > 0) {
				t.Errorf("anonymous = %v with flags %v", f.Anonymous, want.Anonymous)
			}
		})
	}
}

// TestSampleTableMatchesSource keeps the comment table at the top of
// networks.yaml (which the demo traffic generator copies) honest: every
// sample it shows is the sample of a network of its city.
func TestSampleTableMatchesSource(t *testing.T) {
	data, err := os.ReadFile(testSource)
	if err != nil {
		t.Fatal(err)
	}
	src, err := netdata.Load(testSource)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.Lines(string(data)) {
		cells := strings.Split(strings.TrimPrefix(strings.TrimSpace(line), "#"), "|")
		if len(cells) < 9 || !strings.HasPrefix(strings.TrimSpace(line), "# |") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		// | place | cc/place | v4 sample | v4 net | v6 sample | v6 net | asn | org |
		for _, pair := range [][2]string{{cells[3], cells[4]}, {cells[5], cells[6]}} {
			sample, err := netip.ParseAddr(pair[0])
			if err != nil {
				continue // header, separator or empty cell
			}
			rows++
			i := slices.IndexFunc(src.Networks, func(n netdata.Network) bool { return n.Sample == sample })
			if i < 0 {
				t.Errorf("table sample %s is not the sample of any network", sample)
				continue
			}
			if n := src.Networks[i]; n.CIDR.String() != pair[1] {
				t.Errorf("table row for %s: network %s, the source says %s", sample, pair[1], n.CIDR)
			}
			if want := src.Resolve(sample); cells[7] != strconv.Itoa(int(want.ASN)) || cells[8] != want.ASOrg {
				t.Errorf("table row for %s: AS%s %q, the source says AS%d %q", sample, cells[7], cells[8], want.ASN, want.ASOrg)
			}
		}
	}
	if rows < 24 {
		t.Errorf("found %d sample addresses in the table, want at least 24 (12 cities x 2)", rows)
	}
}

func TestNewEnricherErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a maxmind database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	city, err := os.ReadFile(testCityDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, city[:len(city)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// A valid metadata section over a search tree of garbage.
	badTree := filepath.Join(dir, "bad-tree.mmdb")
	corrupt := slices.Clone(city)
	for i := range 4096 {
		corrupt[i] = 0xff
	}
	if err := os.WriteFile(badTree, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  EnricherConfig
		want []string // substrings of the error
	}{
		{"missing city file", EnricherConfig{CityPath: filepath.Join(dir, "nope.mmdb")}, []string{"geoip.city", "nope.mmdb", "no such file"}},
		{"garbage as city", EnricherConfig{CityPath: garbage}, []string{"geoip.city " + garbage + ":"}},
		{"truncated city", EnricherConfig{CityPath: truncated}, []string{"geoip.city " + truncated + ":"}},
		{"city with a corrupt search tree", EnricherConfig{CityPath: badTree}, []string{"geoip.city " + badTree + ":", "reading the database"}},
		{"empty asn", EnricherConfig{ASNPath: empty}, []string{"geoip.asn " + empty + ":"}},
		{"ASN database as city", EnricherConfig{CityPath: testASNDB}, []string{"geoip.city " + testASNDB + ":", `wrong database type "GeoLite2-ASN", want a GeoIP2 or GeoLite2 City`}},
		{"City database as ASN", EnricherConfig{ASNPath: testCityDB}, []string{"geoip.asn " + testCityDB + ":", "wrong database type", "GeoIP2-City"}},
		{"City database as anonymous", EnricherConfig{CityPath: testCityDB, AnonymousPath: testCityDB}, []string{"geoip.anonymous " + testCityDB + ":", "wrong database type"}},
		{"Anonymous database as ASN", EnricherConfig{ASNPath: testAnonDB}, []string{"geoip.asn", "GeoIP2-Anonymous-IP"}},
		{"negative cache", EnricherConfig{CacheEntries: -1}, []string{"geoip.cache_entries: -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEnricher(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEnrichWithoutDatabases(t *testing.T) {
	e, err := NewEnricher(EnricherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := testEvent(t, "carol", "2a02:8010:6c1e::15", false, t0)
	ev.DeviceID = "fp-123"
	ev.TenantID = "acme"
	var f schemas.Features
	e.Enrich(ev, &f)
	if f.GeoKnown || f.ASNKnown || f.AnonKnown || f.Country != "" || f.ASN != 0 || f.Anonymous {
		t.Errorf("GeoIP features set without databases: %+v", f)
	}
	want := schemas.Features{
		UserID: "carol", IP: "2a02:8010:6c1e::15", Network: "2a02:8010:6c1e::/64", IPv6: true,
		Failure: true, FailureReason: "bad_password", AuthMethod: "password", TenantID: "acme", HourUTC: 9,
		Browser: "Chrome", BrowserMajor: 131, OS: "Windows", DeviceType: DeviceDesktop,
		DeviceKey: "fp-123", HasDeviceID: true,
	}
	if f != want {
		t.Errorf("got  %+v\nwant %+v", f, want)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestEnrichWarmPathDoesNotAllocate checks the cached path allocates
// nothing (ristretto's access sampling allocates one 64-key batch every
// 64 hits, which AllocsPerRun's integer average rounds away).
func TestEnrichWarmPathDoesNotAllocate(t *testing.T) {
	if featuretest.RaceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	e := newTestEnricher(t)
	ev := testEvent(t, "dave", "2601:640:8a0:3::19", true, t0)
	var f schemas.Features
	e.Enrich(ev, &f)
	e.agents.Wait()
	if allocs := testing.AllocsPerRun(200, func() { e.Enrich(ev, &f) }); allocs != 0 {
		t.Errorf("warm Enrich allocates %v times", allocs)
	}
	if f.City != "San Francisco" || f.Browser != "Chrome" {
		t.Errorf("warm Enrich filled %q %q", f.City, f.Browser)
	}
	if misses := e.Metrics().IPCacheMisses.Load(); misses != 1 {
		t.Errorf("%d address cache misses, want 1", misses)
	}
}

// TestCachedAddressValueIsCompact keeps the cached address value small:
// the address cache (assoc.go) holds assocWays of them in each set, so a
// set's values stay within a few cache lines. (The bound dates from the
// ristretto cache, whose map stored an item of over 128 bytes out of
// line.)
func TestCachedAddressValueIsCompact(t *testing.T) {
	if size := unsafe.Sizeof(ipInfo{}); size+40 > 128 {
		t.Errorf("ipInfo is %d bytes: ristretto would store it out of line", size)
	}
}

// TestNetworkCacheMatchesLookups: answers cached per database network are
// those of a lookup of each address, for addresses inside and around
// every test network (nested networks, networks absent from some
// databases, addresses in none), IPv4, IPv6 and IPv4-mapped IPv6; and a
// second address of a cached network asks no database.
func TestNetworkCacheMatchesLookups(t *testing.T) {
	src, err := netdata.Load(testSource)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []netip.Addr
	for _, n := range src.Networks {
		first := n.CIDR.Masked().Addr()
		last := first
		for range 1 << min(n.CIDR.Addr().BitLen()-n.CIDR.Bits(), 20) / 2 {
			last = last.Next() // half-way through, capped
		}
		addrs = append(addrs, first, first.Next(), first.Prev(), n.Sample, last, last.Next())
	}
	addrs = append(addrs, netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:81.2.69.160"))
	cached := newTestEnricher(t)
	direct := newTestEnricher(t)
	for round := range 2 { // the second round hits the cache
		for _, addr := range addrs {
			if !addr.IsValid() {
				continue
			}
			var got, want schemas.Features
			cached.Enrich(&schemas.LoginEvent{Addr: addr, OccurredAt: t0}, &got)
			cached.nets.Wait()
			want.HourUTC, want.Failure = t0.Hour(), true
			n := direct.resolveIP(addr)
			info := ipInfo{addr: addr, network: features.NetworkOf(addr).String(), place: n.place, as: n.as, flags: n.flags}
			info.fill(&want)
			dev := direct.lookupDevice("")
			dev.fill(&want)
			if got != want {
				t.Fatalf("round %d %s: cached %+v\nlookup %+v", round, addr, got, want)
			}
		}
	}
	misses := cached.Metrics().IPCacheMisses.Load()
	if misses >= int64(len(addrs)) {
		t.Errorf("%d database lookups for %d addresses twice: nothing shared a network", misses, len(addrs))
	}
	// Another address of a cached network.
	before := misses
	sample := src.Networks[0].Sample
	var f schemas.Features
	cached.Enrich(&schemas.LoginEvent{Addr: sample}, &f)
	cached.nets.Wait()
	cached.Enrich(&schemas.LoginEvent{Addr: sample.Next()}, &f)
	if after := cached.Metrics().IPCacheMisses.Load(); after > before+1 {
		t.Errorf("%d lookups for two addresses of %s", after-before, src.Networks[0].CIDR)
	}
}
