package state

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/features/internal/netdata"
	"github.com/loginrisk/loginrisk/schemas"
)

// Sample addresses of testdata/geoip/networks.yaml.
const (
	londonV4  = "81.2.69.160"
	londonV6  = "2a02:8010:6c1e::15"
	parisV4   = "90.84.118.42"
	sfV4      = "73.162.88.19"
	tokyoV4   = "126.72.31.5"
	torV4     = "185.220.101.4"
	hostingV4 = "45.33.4.10"
)

func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := NewStore(StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scorer enriches and observes events like the engine does.
type scorer struct {
	t testing.TB
	e *enrich.Enricher
	s *Store
}

func newScorer(t testing.TB) *scorer {
	return &scorer{t: t, e: newTestEnricher(t), s: newTestStore(t)}
}

// observe observes ev as the engine does an attempt it allows: a success
// then teaches the profile and trusted contexts (Learn).
func (sc *scorer) observe(ev *schemas.LoginEvent) schemas.Features {
	f := sc.observeOnly(ev)
	sc.s.Learn(ev, &f)
	return f
}

// observeOnly observes ev as the engine does an attempt it challenges or
// refuses: counted in the windows, teaching nothing.
func (sc *scorer) observeOnly(ev *schemas.LoginEvent) schemas.Features {
	var f schemas.Features
	sc.e.Enrich(ev, &f)
	sc.s.Observe(ev, &f)
	return f
}

func (sc *scorer) peek(ev *schemas.LoginEvent) schemas.Features {
	var f schemas.Features
	sc.e.Enrich(ev, &f)
	sc.s.Peek(ev, &f)
	return f
}

// login is a compact event for the tables below.
func (sc *scorer) login(user, ip string, ok bool, at time.Time) schemas.Features {
	return sc.observe(testEvent(sc.t, user, ip, ok, at))
}

func TestImpossibleTravel(t *testing.T) {
	src, err := netdata.Load(testSource)
	if err != nil {
		t.Fatal(err)
	}
	london, sf := src.Locations["london"], src.Locations["san-francisco"]
	londonSFKm := haversineKm(london.Latitude, london.Longitude, sf.Latitude, sf.Longitude)
	// An independent check of the formula: London-San Francisco is about
	// 8,600 km along a great circle.
	if londonSFKm < 8550 || londonSFKm > 8680 {
		t.Fatalf("haversine London-SF = %.0f km", londonSFKm)
	}
	sc := newScorer(t)
	tests := []struct {
		name       string
		ip         string
		at         time.Duration // after t0
		km         float64
		fasterThan float64 // speed must exceed (0: no check)
		slowerThan float64 // speed must not exceed (0: no check)
	}{
		{"first login, London", londonV4, 0, 0, 0, 0},
		{"an hour later, San Francisco", sfV4, time.Hour, londonSFKm, 1000, 0},
		{"ten hours later, London again", londonV4, 11 * time.Hour, londonSFKm, 0, 1000},
		{"a minute later, London IPv6", londonV6, 11*time.Hour + time.Minute, 0, 0, 1},
		{"20 seconds later, Tokyo (under 60 s counts as 60 s)", tokyoV4, 11*time.Hour + time.Minute + 20*time.Second, -1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sc.login("traveller", tt.ip, true, t0.Add(tt.at))
			if tt.km >= 0 && math.Abs(f.TravelKm-tt.km) > 0.5 {
				t.Errorf("travel_km = %.1f, want %.1f", f.TravelKm, tt.km)
			}
			if tt.fasterThan > 0 && f.TravelSpeedKmh <= tt.fasterThan {
				t.Errorf("travel_speed_kmh = %.0f, want > %.0f", f.TravelSpeedKmh, tt.fasterThan)
			}
			if tt.slowerThan > 0 && f.TravelSpeedKmh > tt.slowerThan {
				t.Errorf("travel_speed_kmh = %.0f, want <= %.0f", f.TravelSpeedKmh, tt.slowerThan)
			}
			if tt.km < 0 && math.Abs(f.TravelSpeedKmh-f.TravelKm*60) > 1e-6 {
				t.Errorf("speed %.0f km/h for %.0f km in 20 s, want the 60 s floor (%.0f)", f.TravelSpeedKmh, f.TravelKm, f.TravelKm*60)
			}
		})
	}
	// The first login has no previous success.
	sc2 := newScorer(t)
	if f := sc2.login("newcomer", londonV4, true, t0); f.SecondsSinceLastSuccess != -1 || f.TravelKm != 0 || f.TravelSpeedKmh != 0 {
		t.Errorf("first login: since=%v km=%v speed=%v", f.SecondsSinceLastSuccess, f.TravelKm, f.TravelSpeedKmh)
	}
	if f := sc2.login("newcomer", sfV4, false, t0.Add(90*time.Minute)); f.SecondsSinceLastSuccess != 5400 || f.TravelSpeedKmh < 5000 {
		t.Errorf("failure after a success: since=%v speed=%v", f.SecondsSinceLastSuccess, f.TravelSpeedKmh)
	}
}

func TestCredentialStuffingFromOneIP(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 30 {
		f = sc.login(fmt.Sprintf("victim-%02d", i), hostingV4, false, t0.Add(time.Duration(i)*19*time.Second))
		if f.IPDistinctUsers10m != i+1 {
			t.Fatalf("event %d: ip_distinct_users_10m = %d, want %d", i, f.IPDistinctUsers10m, i+1)
		}
	}
	if f.IPDistinctUsers10m != 30 || f.IPDistinctUsers1h != 30 || f.IPFailures10m != 30 || f.IPAttempts1h != 30 || f.IPSuccessRatio1h != 0 {
		t.Errorf("last event: %+v", ipFeatures(f))
	}
	if f.Hosting != true || f.UserFailures15m != 1 {
		t.Errorf("hosting=%v user_failures_15m=%d", f.Hosting, f.UserFailures15m)
	}
	// Eleven minutes after the first, the first victims fall out of the
	// 10-minute window but not out of the hour.
	f = sc.login("victim-00", hostingV4, true, t0.Add(11*time.Minute))
	if f.IPDistinctUsers10m >= 30 || f.IPDistinctUsers1h != 30 || f.IPAttempts1h != 31 || math.Abs(f.IPSuccessRatio1h-1.0/31) > 1e-12 {
		t.Errorf("11 minutes on: %+v", ipFeatures(f))
	}
}

func ipFeatures(f schemas.Features) map[string]any {
	return map[string]any{
		"failures_1m": f.IPFailures1m, "failures_10m": f.IPFailures10m, "failures_1h": f.IPFailures1h,
		"attempts_1h": f.IPAttempts1h, "users_10m": f.IPDistinctUsers10m, "users_1h": f.IPDistinctUsers1h,
		"ratio_1h": f.IPSuccessRatio1h,
	}
}

func TestIPv6RotationInsideOneSlash64(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 20 {
		ip := fmt.Sprintf("2a0e:97c0:1a:7:%x::%x", i*7919%0xffff, i+1)
		f = sc.login("target", ip, false, t0.Add(time.Duration(i)*10*time.Second))
	}
	if f.UserDistinctIPs1h != 1 {
		t.Errorf("user_distinct_ips_1h = %d, want 1", f.UserDistinctIPs1h)
	}
	if f.IPFailures10m != 20 || f.IPFailures1h != 20 || f.IPAttempts1h != 20 || f.IPFailures1m != 6 {
		t.Errorf("ip features %+v, want 20 failures (6 in the last minute)", ipFeatures(f))
	}
	// Another /64 of the same provider is another source.
	f = sc.login("target", "2a0e:97c0:1a:8::1", false, t0.Add(4*time.Minute))
	if f.UserDistinctIPs1h != 2 || f.IPFailures1h != 1 {
		t.Errorf("another /64: distinct ips %d, ip failures %d", f.UserDistinctIPs1h, f.IPFailures1h)
	}
	// IPv4 addresses are counted one by one, even inside one /24.
	f = sc.login("target", "81.2.69.161", false, t0.Add(5*time.Minute))
	f = sc.login("target", "81.2.69.162", false, t0.Add(6*time.Minute))
	if f.UserDistinctIPs1h != 4 || f.UserNetworkFailures15m != 2 {
		t.Errorf("two IPv4 addresses of one /24: distinct ips %d (want 4), network failures %d (want 2)", f.UserDistinctIPs1h, f.UserNetworkFailures15m)
	}
}

func TestUserFailureWindows(t *testing.T) {
	sc := newScorer(t)
	tests := []struct {
		name                                 string
		at                                   time.Duration
		ok                                   bool
		ip                                   string
		fail1m, fail15m, fail1h, consecutive int
		succ15m, networkFail15m, fail24h     int
	}{
		{"1st failure", 0, false, londonV4, 1, 1, 1, 1, 0, 1, 1},
		{"2nd failure", 3 * time.Minute, false, londonV4, 1, 2, 2, 2, 0, 2, 2},
		{"3rd failure", 6 * time.Minute, false, londonV4, 1, 3, 3, 3, 0, 3, 3},
		{"4th failure, 30 s later", 6*time.Minute + 30*time.Second, false, londonV4, 2, 4, 4, 4, 0, 4, 4},
		{"5th failure, other network", 12 * time.Minute, false, parisV4, 1, 5, 5, 5, 0, 1, 5},
		{"16 min after the 1st: the 1st is out", 16 * time.Minute, false, londonV4, 1, 5, 6, 6, 0, 4, 6},
		{"a success resets consecutive failures", 17 * time.Minute, true, londonV4, 0, 5, 6, 0, 1, 4, 6},
		{"a failure after it", 17*time.Minute + 10*time.Second, false, londonV4, 1, 6, 7, 1, 1, 5, 7},
		{"70 min on: only the hour's attempts", 70 * time.Minute, false, londonV4, 1, 1, 4, 2, 0, 1, 8},
		{"a day and a minute after the 1st", 24*time.Hour + time.Minute, false, londonV4, 1, 1, 1, 3, 0, 1, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sc.login("mallory-target", tt.ip, tt.ok, t0.Add(tt.at))
			got := []int{f.UserFailures1m, f.UserFailures15m, f.UserFailures1h, f.UserConsecutiveFailures, f.UserSuccesses15m, f.UserNetworkFailures15m, f.UserFailures24h}
			want := []int{tt.fail1m, tt.fail15m, tt.fail1h, tt.consecutive, tt.succ15m, tt.networkFail15m, tt.fail24h}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fail 1m/15m/1h, consecutive, succ 15m, network fail 15m, fail 24h = %v, want %v", got, want)
			}
		})
	}
}

// TestWindowsPastTheExactRecords sends more attempts than a key keeps as
// exact records: counts stay exact within the spill's bucket granularity.
func TestWindowsPastTheExactRecords(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	const n = 1000 // one failure a second from one address against one user
	for i := range n {
		f = sc.login("hammered", hostingV4, false, t0.Add(time.Duration(i)*time.Second))
	}
	tests := []struct {
		name      string
		got, want int
		slack     int
	}{
		{"user_failures_1m", f.UserFailures1m, 60, 0},
		{"user_failures_15m", f.UserFailures15m, 900, 60}, // one-minute buckets at the far edge
		{"user_failures_1h", f.UserFailures1h, n, 0},
		{"user_failures_24h", f.UserFailures24h, n, 0},
		{"user_consecutive_failures", f.UserConsecutiveFailures, n, 0},
		{"ip_failures_1m", f.IPFailures1m, 60, 0},
		{"ip_failures_10m", f.IPFailures10m, 600, 60},
		{"ip_failures_1h", f.IPFailures1h, n, 0},
		{"ip_attempts_1h", f.IPAttempts1h, n, 0},
		{"ip_distinct_users_1h", f.IPDistinctUsers1h, 1, 0},
		{"user_distinct_ips_1h", f.UserDistinctIPs1h, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got < tt.want-tt.slack || tt.got > tt.want {
				t.Errorf("%s = %d, want %d (at most %d less)", tt.name, tt.got, tt.want, tt.slack)
			}
		})
	}
}

func TestNewPlaceAndDeviceSemantics(t *testing.T) {
	const (
		chromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		firefoxLx = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
	)
	type flags struct{ known, country, city, asn, device, network bool }
	tests := []struct {
		name   string
		ip     string
		ok     bool
		ua, id string
		want   flags
		total  int
	}{
		{"failures before any success are never new", parisV4, false, chromeWin, "", flags{}, 0},
		{"a brand-new user's first success is not new", londonV4, true, chromeWin, "", flags{}, 0},
		{"same city, network and device", londonV4, true, chromeWin, "", flags{known: true}, 1},
		{"same city over IPv6: a new network", londonV6, true, chromeWin, "", flags{known: true, network: true}, 2},
		{"another country (a failure still says so)", parisV4, false, chromeWin, "", flags{known: true, country: true, city: true, asn: true, network: true}, 3},
		{"Paris was a failure: still new", parisV4, true, chromeWin, "", flags{known: true, country: true, city: true, asn: true, network: true}, 3},
		{"Paris known now", parisV4, true, chromeWin, "", flags{known: true}, 4},
		{"a new browser is a new device", londonV4, true, firefoxLx, "", flags{known: true, device: true}, 5},
		{"a device_id is its own device", londonV4, true, chromeWin, "visitor-1", flags{known: true, device: true}, 6},
		{"Tor: new country, no city to compare", torV4, true, chromeWin, "visitor-1", flags{known: true, country: true, asn: true, network: true}, 7},
		{"not in the databases: only network can be new", "8.8.4.4", true, chromeWin, "visitor-1", flags{known: true, network: true}, 8},
	}
	sc := newScorer(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(t, "nina", tt.ip, tt.ok, t0.Add(time.Duration(i)*time.Hour))
			ev.UserAgent, ev.DeviceID = tt.ua, tt.id
			f := sc.observe(ev)
			got := flags{f.UserKnown, f.NewCountry, f.NewCity, f.NewASN, f.NewDevice, f.NewNetwork}
			if got != tt.want || f.UserSuccessesTotal != tt.total {
				t.Errorf("got %+v total %d, want %+v total %d", got, f.UserSuccessesTotal, tt.want, tt.total)
			}
		})
	}
}

func TestPeekDoesNotRecord(t *testing.T) {
	sc := newScorer(t)
	sc.login("olga", londonV4, true, t0)
	ev := testEvent(t, "olga", londonV4, false, t0.Add(time.Minute))
	first := sc.peek(ev)
	second := sc.peek(ev)
	if first != second {
		t.Fatalf("two peeks differ:\n%+v\n%+v", first, second)
	}
	if first.UserFailures1m != 1 || first.IPAttempts1h != 2 || first.UserConsecutiveFailures != 1 {
		t.Errorf("peek: failures_1m %d ip_attempts_1h %d consecutive %d", first.UserFailures1m, first.IPAttempts1h, first.UserConsecutiveFailures)
	}
	if observed := sc.observe(ev); observed != first {
		t.Errorf("observe after peek differs:\n%+v\n%+v", observed, first)
	}
	// Peek of a key never seen creates nothing.
	before := sc.s.Stats()
	sc.peek(testEvent(t, "nobody", tokyoV4, false, t0))
	if after := sc.s.Stats(); after != before {
		t.Errorf("peek created state: %+v -> %+v", before, after)
	}
}

func TestDeviceDistinctUsers(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 5 {
		ev := testEvent(t, fmt.Sprintf("shared-%d", i), londonV4, true, t0.Add(time.Duration(i)*time.Hour))
		ev.DeviceID = "kiosk-7"
		f = sc.observe(ev)
	}
	if f.DeviceDistinctUsers24h != 5 {
		t.Errorf("device_distinct_users_24h = %d, want 5", f.DeviceDistinctUsers24h)
	}
	ev := testEvent(t, "shared-0", londonV4, true, t0.Add(25*time.Hour))
	ev.DeviceID = "kiosk-7"
	if f = sc.observe(ev); f.DeviceDistinctUsers24h != 4 { // shared-1..4 in the last 24 h, shared-0 again
		t.Errorf("a day later: device_distinct_users_24h = %d, want 4", f.DeviceDistinctUsers24h)
	}
}

func TestOutOfOrderEvents(t *testing.T) {
	sc := newScorer(t)
	sc.login("late", londonV4, false, t0.Add(10*time.Minute))
	sc.login("late", londonV4, false, t0.Add(20*time.Minute))
	// An event from before both: its windows end at its own time.
	f := sc.login("late", londonV4, false, t0.Add(9*time.Minute))
	if f.UserFailures1m != 1 || f.UserFailures15m != 1 || f.UserFailures1h != 1 {
		t.Errorf("late event: 1m %d 15m %d 1h %d, want 1 1 1", f.UserFailures1m, f.UserFailures15m, f.UserFailures1h)
	}
	// Newer events count it in its place: in the window (8m, 23m], then
	// not in (9m30s, 24m30s].
	f = sc.login("late", londonV4, false, t0.Add(23*time.Minute))
	if f.UserFailures15m != 4 || f.UserFailures1h != 4 {
		t.Errorf("after the late event: 15m %d 1h %d, want 4 4", f.UserFailures15m, f.UserFailures1h)
	}
	f = sc.login("late", londonV4, false, t0.Add(24*time.Minute+30*time.Second))
	if f.UserFailures15m != 4 || f.UserFailures1h != 5 {
		t.Errorf("once it leaves the window: 15m %d 1h %d, want 4 5", f.UserFailures15m, f.UserFailures1h)
	}
}

func TestLoadProfile(t *testing.T) {
	sc := newScorer(t)
	last := t0.Add(-2 * time.Hour)
	deviceKey := func() string { // the device key of testEvent's user agent
		var f schemas.Features
		sc.e.Enrich(testEvent(t, "x", londonV4, true, t0), &f)
		return f.DeviceKey
	}()
	sc.s.LoadProfile(&schemas.UserProfile{
		UserID:         "pia",
		Countries:      []string{"GB"},
		Cities:         []string{"GB/London"},
		ASNs:           []int{64601},
		Devices:        []string{deviceKey},
		Networks:       []string{"81.2.69.0/24"},
		SuccessesTotal: 41,
		LastSuccessAt:  last,
		LastGeoKnown:   true,
		LastLatitude:   51.5074,
		LastLongitude:  -0.1278,
	})
	tests := []struct {
		name           string
		ip             string
		at             time.Time
		known, newCity bool
		newNet, newDev bool
		total          int
		since          float64
	}{
		{"replayed success already in the profile", londonV4, last, true, false, false, false, 41, 0},
		{"home, as the profile says", londonV4, t0, true, false, false, false, 41, 7200},
		{"Paris is new", parisV4, t0.Add(time.Hour), true, true, true, false, 42, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sc.login("pia", tt.ip, true, tt.at)
			if f.UserKnown != tt.known || f.NewCity != tt.newCity || f.NewNetwork != tt.newNet || f.NewDevice != tt.newDev ||
				f.UserSuccessesTotal != tt.total || f.SecondsSinceLastSuccess != tt.since {
				t.Errorf("known %v new city %v network %v device %v total %d since %v",
					f.UserKnown, f.NewCity, f.NewNetwork, f.NewDevice, f.UserSuccessesTotal, f.SecondsSinceLastSuccess)
			}
		})
	}
	if st := sc.s.Stats(); st.Profiles != 1 || st.Keys[Users] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSweep(t *testing.T) {
	sc := newScorer(t)
	// A known user with a device, an unknown user who only failed.
	ev := testEvent(t, "kept", londonV4, true, t0)
	ev.DeviceID = "phone-1"
	sc.observe(ev)
	sc.login("attacked", hostingV4, false, t0)
	// phone-1 and the UA key of "attacked"; the crowds are the two
	// addresses, their /24s and the hosting address's ASN (one failure of
	// an account starts no crowd of its own).
	want := StoreStats{Keys: KeyCounts{Users: 2, Addresses: 2, Devices: 2}, Profiles: 1, Crowds: 5}
	if st := sc.s.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	steps := []struct {
		name    string
		at      time.Duration
		want    StoreStats
		removed int
	}{
		{"an hour later nothing is idle", time.Hour, want, 0},
		{"two hours later the IPs are gone, not their day counts", 2 * time.Hour, StoreStats{Keys: KeyCounts{Users: 2, Devices: 2}, Profiles: 1, Crowds: 5}, 2},
		{"after Retention only the profile is left", Retention + time.Second, StoreStats{Keys: KeyCounts{Users: 1}, Profiles: 1}, 8},
		{"after the profile retention, nothing", DefaultProfileRetention + time.Second, StoreStats{}, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			removed := sc.s.Sweep(t0.Add(st.at))
			if got := sc.s.Stats(); got != st.want || removed != st.removed {
				t.Errorf("stats %+v removed %d, want %+v removed %d", got, removed, st.want, st.removed)
			}
		})
	}
	// The swept windows are empty; the profile survived until its end.
	sc2 := newScorer(t)
	sc2.login("back", londonV4, false, t0)
	sc2.login("back", londonV4, true, t0)
	sc2.s.Sweep(t0.Add(26 * time.Hour))
	f := sc2.login("back", parisV4, false, t0.Add(26*time.Hour))
	if f.UserFailures24h != 1 || !f.UserKnown || !f.NewCity || f.UserSuccessesTotal != 1 {
		t.Errorf("after a sweep: failures 24h %d known %v new city %v total %d", f.UserFailures24h, f.UserKnown, f.NewCity, f.UserSuccessesTotal)
	}
}

// TestDeterminism: two stores with the same SketchSeed give the same
// features for the same events. (With a random seed each, a value whose
// sketch counters the other values cover in one store and not the other
// reads a higher population count there: about one run in a hundred of
// this test's differed that way.)
func TestDeterminism(t *testing.T) {
	run := func() []schemas.Features {
		s, err := NewStore(StoreConfig{SketchSeed: 0x5eed})
		if err != nil {
			t.Fatal(err)
		}
		sc := &scorer{t: t, e: newTestEnricher(t), s: s}
		var out []schemas.Features
		ips := []string{londonV4, parisV4, sfV4, torV4, hostingV4, londonV6}
		for i := range 500 {
			user := fmt.Sprintf("u%d", i%37)
			ev := testEvent(t, user, ips[i*7%len(ips)], i%3 != 0, t0.Add(time.Duration(i*i%5000)*time.Second))
			out = append(out, sc.observe(ev))
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs between runs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
}

func TestConcurrentObserve(t *testing.T) {
	sc := newScorer(t)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := testEvent(t, fmt.Sprintf("w%d-u%d", w, i%10), hostingV4, false, t0.Add(time.Duration(i)*time.Second))
				var f schemas.Features
				sc.e.Enrich(ev, &f)
				sc.s.Observe(ev, &f)
				if w == 0 && i%50 == 0 {
					sc.s.Sweep(t0)
					sc.s.Stats()
				}
			}
		}()
	}
	wg.Wait()
	f := sc.peek(testEvent(t, "w0-u0", hostingV4, false, t0.Add(each*time.Second)))
	if f.IPAttempts1h != workers*each+1 {
		t.Errorf("ip_attempts_1h = %d after %d concurrent attempts, want %d", f.IPAttempts1h, workers*each, workers*each+1)
	}
	if f.UserFailures1h != each/10+1 {
		t.Errorf("user_failures_1h = %d, want %d", f.UserFailures1h, each/10+1)
	}
}

func TestNewStoreConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     StoreConfig
		wantErr string
	}{
		{"defaults", StoreConfig{}, ""},
		{"shards not a power of two", StoreConfig{Shards: 100}, "power of two"},
		{"profile retention under the window retention", StoreConfig{ProfileRetention: time.Hour}, "profile retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStore(tt.cfg)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

// newAllocTest is the set-up of an allocation test: a scorer and an
// attempt of user from ip at t0 on device, with the features enrichment
// gives it. It skips the test under the race detector, which makes
// sync.Pool allocate.
func newAllocTest(t *testing.T, user, ip string, ok bool, device string) (*scorer, *schemas.LoginEvent, schemas.Features) {
	t.Helper()
	if featuretest.RaceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	sc := newScorer(t)
	ev := testEvent(t, user, ip, ok, t0)
	ev.DeviceID = device
	var enriched schemas.Features
	sc.e.Enrich(ev, &enriched)
	return sc, ev, enriched
}

// TestObserveWarmPathDoesNotAllocate: once a user, an address and a device
// are known, Observe allocates nothing.
func TestObserveWarmPathDoesNotAllocate(t *testing.T) {
	sc, ev, enriched := newAllocTest(t, "steady", londonV6, true, "laptop")
	at := t0
	step := func() {
		at = at.Add(10 * time.Second)
		ev.OccurredAt = at
		ev.Outcome = []schemas.Outcome{schemas.OutcomeSuccess, schemas.OutcomeFailure}[at.Unix()/10%2]
		f := enriched
		sc.s.Observe(ev, &f)
	}
	for range 200 { // past the exact records: the spill exists
		step()
	}
	if allocs := testing.AllocsPerRun(500, step); allocs != 0 {
		t.Errorf("warm Observe allocates %v times", allocs)
	}
}

// The status counters agree with the features the next attempt would see
// (minus that attempt), and carry the rules' feature names.
func TestStatusCounters(t *testing.T) {
	sc := newScorer(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sc.login("alice", parisV4, true, t0)
	for i := range 4 {
		sc.login("alice", sfV4, false, t0.Add(time.Duration(10+i)*time.Second))
	}
	sc.login("bob", sfV4, false, t0.Add(20*time.Second))
	at := t0.Add(30 * time.Second)

	addr, _ := schemas.ParseIP(sfV4)
	user, ip := sc.s.UserCounters("", "alice", at), sc.s.IPCounters(addr, at)
	wantUser := map[string]float64{
		"user_failures_1m": 4, "user_failures_24h": 4, "user_successes_1m": 1,
		"user_consecutive_failures": 4, "user_distinct_ips_1h": 2,
	}
	for k, v := range wantUser {
		if user.Get(k) != v {
			t.Errorf("user %s = %v, want %v", k, user.Get(k), v)
		}
	}
	wantIP := map[string]float64{
		"ip_failures_1m": 5, "ip_attempts_1h": 5, "ip_distinct_users_10m": 2, "ip_success_ratio_1h": 0,
	}
	for k, v := range wantIP {
		if ip.Get(k) != v {
			t.Errorf("ip %s = %v, want %v", k, ip.Get(k), v)
		}
	}
	for _, c := range []schemas.Counters{user, ip} {
		if !slices.IsSortedFunc(c, func(a, b schemas.Counter) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("counters not sorted by name (as schemas.Counters are): %v", c)
		}
	}
	// An hour later the one-minute windows are empty, the day window not.
	later := sc.s.UserCounters("", "alice", t0.Add(2*time.Hour))
	if later.Get("user_failures_1m") != 0 || later.Get("user_failures_24h") != 4 {
		t.Errorf("two hours later: %v", later)
	}
	if none := sc.s.UserCounters("", "nobody", at); none.Get("user_failures_24h") != 0 {
		t.Errorf("unknown user: %v", none)
	}

	// Every counter is a feature the rules know by that name.
	cat, err := schemas.FeatureCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range cat {
		names[c.Name] = true
	}
	for _, c := range user {
		if !names[c.Name] {
			t.Errorf("user counter %q is not a feature", c.Name)
		}
	}
	for _, c := range ip {
		if !names[c.Name] {
			t.Errorf("ip counter %q is not a feature", c.Name)
		}
	}
}

// TestPeekOfUnknownKeysDoesNotAllocate: a dry run for a user, an address
// and a device the store has never seen reads empty state on the stack.
func TestPeekOfUnknownKeysDoesNotAllocate(t *testing.T) {
	sc, ev, enriched := newAllocTest(t, "stranger", londonV4, false, "never-seen")
	if allocs := testing.AllocsPerRun(200, func() {
		f := enriched
		sc.s.Peek(ev, &f)
	}); allocs != 0 {
		t.Errorf("Peek of unknown keys allocates %v times", allocs)
	}
	if st := sc.s.Stats(); st.Keys != (KeyCounts{}) {
		t.Errorf("Peek recorded keys: %+v", st)
	}
}

// TestTableAgainstMap puts, gets and sweeps keys in a table and a Go map
// side by side, with hashes chosen to collide (equal hashes for distinct
// keys, and many keys probing from one slot), through growth (checked
// after every step, so also while a shard is being moved) and sweeps
// that leave tombstones in the middle of probes and shrink shards: the
// table holds what the map holds.
func TestTableAgainstMap(t *testing.T) {
	tests := []struct {
		name string
		hash func(key int) uint64
	}{
		{"store hash", func(key int) uint64 { return keyhash.String(strconv.Itoa(key)) | placedBit }},
		{"equal hashes", func(key int) uint64 { return uint64(key%7) | placedBit }},
		{"one start slot", func(key int) uint64 { return uint64(key)&0xff | placedBit }}, // bits 24 to 62 are 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 9))
			tab := newTable[string, int](4, 1<<20)
			model := map[string]int{}
			check := func(step int) {
				t.Helper()
				for k := range 300 {
					key := strconv.Itoa(k)
					h := tt.hash(k)
					got := tab.shard(h).get(h, key)
					want, ok := model[key]
					if (got != nil) != ok || ok && *got != want {
						t.Fatalf("step %d: key %s: table %v, map %v %v", step, key, got, want, ok)
					}
				}
				if n := tab.len(); n != len(model) {
					t.Fatalf("step %d: table holds %d keys, map %d", step, n, len(model))
				}
				n := 0
				for i := range tab.shards {
					n += tab.shards[i].live
				}
				if n != len(model) {
					t.Fatalf("step %d: the shards hold %d values, map %d", step, n, len(model))
				}
			}
			for step := range 3000 {
				switch r := rng.IntN(100); {
				case r < 90:
					k := rng.IntN(300)
					key, h := strconv.Itoa(k), tt.hash(k)
					sh := tab.shard(h)
					if v := sh.get(h, key); v != nil {
						*v++
						model[key]++
					} else {
						if _, ok := tab.makeRoom(sh, nil); !ok {
							t.Fatalf("step %d: no room below the limit", step)
						}
						v := new(int)
						sh.put(h, key, v)
						model[key] = 0
					}
				default: // sweep about a third of the keys
					removed := tab.sweep(func(v *int) bool { return *v%3 == 0 })
					want := 0
					for key, v := range model {
						if v%3 == 0 {
							delete(model, key)
							want++
						}
					}
					if removed != want {
						t.Fatalf("step %d: sweep removed %d, want %d", step, removed, want)
					}
				}
				check(step) // also while a shard is moving: both arrays are searched
			}
			check(3000)
		})
	}
}

// TestSketchSeed: a Store's familiarity sketches take StoreConfig's
// SketchSeed, so that offline scoring can fix it; without one each Store
// draws its own.
func TestSketchSeed(t *testing.T) {
	seeds := func(cfg StoreConfig) uint64 {
		s, err := NewStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.population.sketch[famCity].seed
	}
	if got := seeds(StoreConfig{SketchSeed: 42}); got != 42 {
		t.Errorf("sketch seed %d, want the configured 42", got)
	}
	if a, b := seeds(StoreConfig{}), seeds(StoreConfig{}); a == 0 || a == b {
		t.Errorf("two stores without a seed drew %d and %d, want two random ones", a, b)
	}
}
