package history

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// ErrInvalidRow is wrapped by the error WriteHistory returns for an event
// that cannot be stored (no event or decision, an outcome or verdict the
// table does not know). Such an event is refused up front: once buffered,
// a row is retried until it is inserted, so a bad one would block the
// writer.
var ErrInvalidRow = errors.New("history: event cannot be stored")

// The values of the source column.
const (
	SourceKafka = "kafka"
	SourceHTTP  = "http"
	SourceAdmin = "admin"
)

func validSource(s string) bool {
	return s == SourceKafka || s == SourceHTTP || s == SourceAdmin
}

// epoch is the DateTime stored when there is no time (lock_until of a
// decision without a lock).
var epoch = time.Unix(0, 0).UTC()

// record is one login_events row in ClickHouse column types. It is the one
// place where schemas types become column values (newRecord) and back
// (scored); columns() lists its fields in recordColumns order.
type record struct {
	EventID         string
	OccurredAt      time.Time
	OccurredAtNs    uint32
	UserID          string
	Outcome         string
	IP              string
	UserAgent       string
	DeviceID        string
	FailureReason   string
	AuthMethod      string
	TenantID        string
	AttributeKeys   []string
	AttributeValues []string

	Network          string
	IPv6             uint8
	GeoKnown         uint8
	Country          string
	Subdivision      string
	City             string
	Latitude         float64
	Longitude        float64
	AccuracyRadiusKm uint32
	TimeZone         string
	ASNKnown         uint8
	ASN              uint32
	ASOrg            string
	AnonKnown        uint8
	Anonymous        uint8
	AnonymousVPN     uint8
	Hosting          uint8
	PublicProxy      uint8
	TorExit          uint8
	ResidentialProxy uint8
	Browser          string
	BrowserMajor     uint32
	OS               string
	DeviceType       string
	Automation       uint8
	DeviceKey        string
	HasDeviceID      uint8

	UserFailures1m          uint32
	UserFailures15m         uint32
	UserFailures1h          uint32
	UserFailures24h         uint32
	UserSuccesses1m         uint32
	UserSuccesses15m        uint32
	UserSuccesses1h         uint32
	UserSuccesses24h        uint32
	UserConsecutiveFailures uint32
	UserNetworkFailures15m  uint32
	UserDistinctIPs1h       uint32
	UserKnown               uint8
	UserSuccessesTotal      uint32
	NewCountry              uint8
	NewCity                 uint8
	NewASN                  uint8
	NewDevice               uint8
	NewNetwork              uint8
	SecondsSinceLastSuccess float64
	TravelKm                float64
	TravelSpeedKmh          float64
	IPFailures1m            uint32
	IPFailures10m           uint32
	IPFailures1h            uint32
	IPAttempts1h            uint32
	IPDistinctUsers10m      uint32
	IPDistinctUsers1h       uint32
	IPSuccessRatio1h        float64
	DeviceDistinctUsers24h  uint32

	Score         uint8
	Decision      string
	LockScope     string
	LockKey       string
	LockUntil     time.Time
	LockRule      string
	ReasonRules   []string
	ReasonWeights []int32
	ReasonDetails []string
	ShadowRules   []string
	ShadowWeights []int32
	RulesVersion  string
	DecidedAt     time.Time
	Source        string
}

// recordColumns are the login_events columns a record fills, in the order
// of record.columns. INSERTs name them; Recent selects them.
var recordColumns = []string{
	"event_id", "occurred_at", "occurred_at_ns", "user_id", "outcome", "ip",
	"user_agent", "device_id", "failure_reason", "auth_method", "tenant_id",
	"attribute_keys", "attribute_values",

	"network", "ipv6", "geo_known", "country", "subdivision", "city",
	"latitude", "longitude", "accuracy_radius_km", "time_zone", "asn_known",
	"asn", "as_org", "anon_known", "anonymous", "anonymous_vpn", "hosting",
	"public_proxy", "tor_exit", "residential_proxy", "browser",
	"browser_major", "os", "device_type", "automation", "device_key",
	"has_device_id",

	"user_failures_1m", "user_failures_15m", "user_failures_1h",
	"user_failures_24h", "user_successes_1m", "user_successes_15m",
	"user_successes_1h", "user_successes_24h", "user_consecutive_failures",
	"user_network_failures_15m", "user_distinct_ips_1h", "user_known",
	"user_successes_total", "new_country", "new_city", "new_asn",
	"new_device", "new_network", "seconds_since_last_success", "travel_km",
	"travel_speed_kmh", "ip_failures_1m", "ip_failures_10m", "ip_failures_1h",
	"ip_attempts_1h", "ip_distinct_users_10m", "ip_distinct_users_1h",
	"ip_success_ratio_1h", "device_distinct_users_24h",

	"score", "decision", "lock_scope", "lock_key", "lock_until", "lock_rule",
	"reason_rules", "reason_weights", "reason_details", "shadow_rules",
	"shadow_weights", "rules_version", "decided_at", "source",
}

// columns returns pointers to the fields, in recordColumns order, for
// batch.Append (which dereferences them) and rows.Scan.
func (r *record) columns() []any {
	return []any{
		&r.EventID, &r.OccurredAt, &r.OccurredAtNs, &r.UserID, &r.Outcome, &r.IP,
		&r.UserAgent, &r.DeviceID, &r.FailureReason, &r.AuthMethod, &r.TenantID,
		&r.AttributeKeys, &r.AttributeValues,

		&r.Network, &r.IPv6, &r.GeoKnown, &r.Country, &r.Subdivision, &r.City,
		&r.Latitude, &r.Longitude, &r.AccuracyRadiusKm, &r.TimeZone, &r.ASNKnown,
		&r.ASN, &r.ASOrg, &r.AnonKnown, &r.Anonymous, &r.AnonymousVPN, &r.Hosting,
		&r.PublicProxy, &r.TorExit, &r.ResidentialProxy, &r.Browser,
		&r.BrowserMajor, &r.OS, &r.DeviceType, &r.Automation, &r.DeviceKey,
		&r.HasDeviceID,

		&r.UserFailures1m, &r.UserFailures15m, &r.UserFailures1h,
		&r.UserFailures24h, &r.UserSuccesses1m, &r.UserSuccesses15m,
		&r.UserSuccesses1h, &r.UserSuccesses24h, &r.UserConsecutiveFailures,
		&r.UserNetworkFailures15m, &r.UserDistinctIPs1h, &r.UserKnown,
		&r.UserSuccessesTotal, &r.NewCountry, &r.NewCity, &r.NewASN,
		&r.NewDevice, &r.NewNetwork, &r.SecondsSinceLastSuccess, &r.TravelKm,
		&r.TravelSpeedKmh, &r.IPFailures1m, &r.IPFailures10m, &r.IPFailures1h,
		&r.IPAttempts1h, &r.IPDistinctUsers10m, &r.IPDistinctUsers1h,
		&r.IPSuccessRatio1h, &r.DeviceDistinctUsers24h,

		&r.Score, &r.Decision, &r.LockScope, &r.LockKey, &r.LockUntil, &r.LockRule,
		&r.ReasonRules, &r.ReasonWeights, &r.ReasonDetails, &r.ShadowRules,
		&r.ShadowWeights, &r.RulesVersion, &r.DecidedAt, &r.Source,
	}
}

// insertSQL is the INSERT every batch uses.
var insertSQL = "INSERT INTO login_events (" + strings.Join(recordColumns, ", ") + ")"

// newRecord converts a scored event into a row. Features may be nil (only
// the event's own fields are then known).
func newRecord(se *schemas.ScoredEvent, source string) (record, error) {
	ev, d := se.Event, se.Decision
	if ev == nil || d == nil {
		return record{}, fmt.Errorf("%w: a scored event needs its event and decision", ErrInvalidRow)
	}
	if ev.Outcome != schemas.OutcomeSuccess && ev.Outcome != schemas.OutcomeFailure {
		return record{}, fmt.Errorf("%w: event %s: outcome %q", ErrInvalidRow, ev.EventID, ev.Outcome)
	}
	switch d.Decision {
	case schemas.VerdictAllow, schemas.VerdictChallenge, schemas.VerdictLockout:
	default:
		return record{}, fmt.Errorf("%w: event %s: decision %q", ErrInvalidRow, ev.EventID, d.Decision)
	}
	if d.Lock != nil && !d.Lock.Scope.Valid() {
		return record{}, fmt.Errorf("%w: event %s: lock scope %q", ErrInvalidRow, ev.EventID, d.Lock.Scope)
	}
	if !validSource(source) {
		return record{}, fmt.Errorf("%w: source %q", ErrInvalidRow, source)
	}
	occurred := ev.OccurredAt.UTC()
	if occurred.Unix() < 0 || occurred.Unix() > math.MaxUint32 {
		return record{}, fmt.Errorf("%w: event %s: occurred_at %s is outside the DateTime range", ErrInvalidRow, ev.EventID, occurred.Format(time.RFC3339))
	}
	r := record{
		EventID:       ev.EventID,
		OccurredAt:    occurred.Truncate(time.Second),
		OccurredAtNs:  uint32(occurred.Nanosecond()),
		UserID:        ev.UserID,
		Outcome:       string(ev.Outcome),
		IP:            ev.IP,
		UserAgent:     ev.UserAgent,
		DeviceID:      ev.DeviceID,
		FailureReason: ev.FailureReason,
		AuthMethod:    ev.AuthMethod,
		TenantID:      ev.TenantID,

		Score:         uint8(min(max(d.Score, 0), math.MaxUint8)),
		Decision:      string(d.Decision),
		LockUntil:     epoch,
		ReasonRules:   make([]string, len(d.Reasons)),
		ReasonWeights: make([]int32, len(d.Reasons)),
		ReasonDetails: make([]string, len(d.Reasons)),
		ShadowRules:   make([]string, len(d.Shadow)),
		ShadowWeights: make([]int32, len(d.Shadow)),
		RulesVersion:  d.RulesVersion,
		DecidedAt:     clampDateTime(d.DecidedAt).Truncate(time.Second),
		Source:        source,
	}
	if len(ev.Attributes) > 0 {
		r.AttributeKeys = make([]string, 0, len(ev.Attributes))
		for k := range ev.Attributes {
			r.AttributeKeys = append(r.AttributeKeys, k)
		}
		sort.Strings(r.AttributeKeys)
		r.AttributeValues = make([]string, len(r.AttributeKeys))
		for i, k := range r.AttributeKeys {
			r.AttributeValues[i] = ev.Attributes[k]
		}
	} else {
		r.AttributeKeys, r.AttributeValues = []string{}, []string{}
	}
	if l := d.Lock; l != nil {
		r.LockScope, r.LockKey, r.LockRule = string(l.Scope), l.Key, l.Rule
		// DateTime has whole seconds: round the end of a lock up, never
		// shortening it.
		until := clampDateTime(l.Until)
		if t := until.Truncate(time.Second); t.Before(until) {
			until = t.Add(time.Second)
		}
		r.LockUntil = until
	}
	for i, reason := range d.Reasons {
		r.ReasonRules[i], r.ReasonWeights[i], r.ReasonDetails[i] = reason.Rule, int32(reason.Weight), reason.Detail
	}
	for i, hit := range d.Shadow {
		r.ShadowRules[i], r.ShadowWeights[i] = hit.Rule, int32(hit.Weight)
	}
	if f := se.Features; f != nil {
		r.setFeatures(f)
	}
	return r, nil
}

func (r *record) setFeatures(f *schemas.Features) {
	r.Network = f.Network
	r.IPv6 = flag(f.IPv6)
	r.GeoKnown = flag(f.GeoKnown)
	r.Country = f.Country
	r.Subdivision = f.Subdivision
	r.City = f.City
	r.Latitude = f.Latitude
	r.Longitude = f.Longitude
	r.AccuracyRadiusKm = count(f.AccuracyRadiusKm)
	r.TimeZone = f.TimeZone
	r.ASNKnown = flag(f.ASNKnown)
	r.ASN = count(f.ASN)
	r.ASOrg = f.ASOrg
	r.AnonKnown = flag(f.AnonKnown)
	r.Anonymous = flag(f.Anonymous)
	r.AnonymousVPN = flag(f.AnonymousVPN)
	r.Hosting = flag(f.Hosting)
	r.PublicProxy = flag(f.PublicProxy)
	r.TorExit = flag(f.TorExit)
	r.ResidentialProxy = flag(f.ResidentialProxy)
	r.Browser = f.Browser
	r.BrowserMajor = count(f.BrowserMajor)
	r.OS = f.OS
	r.DeviceType = f.DeviceType
	r.Automation = flag(f.Automation)
	r.DeviceKey = f.DeviceKey
	r.HasDeviceID = flag(f.HasDeviceID)

	r.UserFailures1m = count(f.UserFailures1m)
	r.UserFailures15m = count(f.UserFailures15m)
	r.UserFailures1h = count(f.UserFailures1h)
	r.UserFailures24h = count(f.UserFailures24h)
	r.UserSuccesses1m = count(f.UserSuccesses1m)
	r.UserSuccesses15m = count(f.UserSuccesses15m)
	r.UserSuccesses1h = count(f.UserSuccesses1h)
	r.UserSuccesses24h = count(f.UserSuccesses24h)
	r.UserConsecutiveFailures = count(f.UserConsecutiveFailures)
	r.UserNetworkFailures15m = count(f.UserNetworkFailures15m)
	r.UserDistinctIPs1h = count(f.UserDistinctIPs1h)
	r.UserKnown = flag(f.UserKnown)
	r.UserSuccessesTotal = count(f.UserSuccessesTotal)
	r.NewCountry = flag(f.NewCountry)
	r.NewCity = flag(f.NewCity)
	r.NewASN = flag(f.NewASN)
	r.NewDevice = flag(f.NewDevice)
	r.NewNetwork = flag(f.NewNetwork)
	r.SecondsSinceLastSuccess = f.SecondsSinceLastSuccess
	r.TravelKm = f.TravelKm
	r.TravelSpeedKmh = f.TravelSpeedKmh
	r.IPFailures1m = count(f.IPFailures1m)
	r.IPFailures10m = count(f.IPFailures10m)
	r.IPFailures1h = count(f.IPFailures1h)
	r.IPAttempts1h = count(f.IPAttempts1h)
	r.IPDistinctUsers10m = count(f.IPDistinctUsers10m)
	r.IPDistinctUsers1h = count(f.IPDistinctUsers1h)
	r.IPSuccessRatio1h = f.IPSuccessRatio1h
	r.DeviceDistinctUsers24h = count(f.DeviceDistinctUsers24h)
}

// scored converts a row read back from login_events into a scored event:
// the event, all the features (those that come from the event itself are
// filled from it) and the decision. Times come back in UTC; decided_at and
// the lock's end have whole seconds.
func (r *record) scored() schemas.ScoredEvent {
	ev := &schemas.LoginEvent{
		EventID:       r.EventID,
		OccurredAt:    r.OccurredAt.UTC().Add(time.Duration(r.OccurredAtNs)),
		UserID:        r.UserID,
		Outcome:       schemas.Outcome(r.Outcome),
		IP:            r.IP,
		UserAgent:     r.UserAgent,
		DeviceID:      r.DeviceID,
		FailureReason: r.FailureReason,
		AuthMethod:    r.AuthMethod,
		TenantID:      r.TenantID,
	}
	if len(r.AttributeKeys) > 0 {
		ev.Attributes = make(map[string]string, len(r.AttributeKeys))
		for i, k := range r.AttributeKeys {
			if i < len(r.AttributeValues) {
				ev.Attributes[k] = r.AttributeValues[i]
			}
		}
	}
	if addr, err := schemas.ParseIP(r.IP); err == nil {
		ev.Addr = addr
	}
	f := &schemas.Features{
		UserID:        ev.UserID,
		IP:            ev.IP,
		Network:       r.Network,
		IPv6:          r.IPv6 != 0,
		Success:       ev.Success(),
		Failure:       !ev.Success(),
		FailureReason: ev.FailureReason,
		AuthMethod:    ev.AuthMethod,
		TenantID:      ev.TenantID,
		HourUTC:       ev.OccurredAt.Hour(),

		GeoKnown:         r.GeoKnown != 0,
		Country:          r.Country,
		Subdivision:      r.Subdivision,
		City:             r.City,
		Latitude:         r.Latitude,
		Longitude:        r.Longitude,
		AccuracyRadiusKm: int(r.AccuracyRadiusKm),
		TimeZone:         r.TimeZone,
		ASNKnown:         r.ASNKnown != 0,
		ASN:              int(r.ASN),
		ASOrg:            r.ASOrg,
		AnonKnown:        r.AnonKnown != 0,
		Anonymous:        r.Anonymous != 0,
		AnonymousVPN:     r.AnonymousVPN != 0,
		Hosting:          r.Hosting != 0,
		PublicProxy:      r.PublicProxy != 0,
		TorExit:          r.TorExit != 0,
		ResidentialProxy: r.ResidentialProxy != 0,
		Browser:          r.Browser,
		BrowserMajor:     int(r.BrowserMajor),
		OS:               r.OS,
		DeviceType:       r.DeviceType,
		Automation:       r.Automation != 0,
		DeviceKey:        r.DeviceKey,
		HasDeviceID:      r.HasDeviceID != 0,

		UserFailures1m:          int(r.UserFailures1m),
		UserFailures15m:         int(r.UserFailures15m),
		UserFailures1h:          int(r.UserFailures1h),
		UserFailures24h:         int(r.UserFailures24h),
		UserSuccesses1m:         int(r.UserSuccesses1m),
		UserSuccesses15m:        int(r.UserSuccesses15m),
		UserSuccesses1h:         int(r.UserSuccesses1h),
		UserSuccesses24h:        int(r.UserSuccesses24h),
		UserConsecutiveFailures: int(r.UserConsecutiveFailures),
		UserNetworkFailures15m:  int(r.UserNetworkFailures15m),
		UserDistinctIPs1h:       int(r.UserDistinctIPs1h),
		UserKnown:               r.UserKnown != 0,
		UserSuccessesTotal:      int(r.UserSuccessesTotal),
		NewCountry:              r.NewCountry != 0,
		NewCity:                 r.NewCity != 0,
		NewASN:                  r.NewASN != 0,
		NewDevice:               r.NewDevice != 0,
		NewNetwork:              r.NewNetwork != 0,
		SecondsSinceLastSuccess: r.SecondsSinceLastSuccess,
		TravelKm:                r.TravelKm,
		TravelSpeedKmh:          r.TravelSpeedKmh,
		IPFailures1m:            int(r.IPFailures1m),
		IPFailures10m:           int(r.IPFailures10m),
		IPFailures1h:            int(r.IPFailures1h),
		IPAttempts1h:            int(r.IPAttempts1h),
		IPDistinctUsers10m:      int(r.IPDistinctUsers10m),
		IPDistinctUsers1h:       int(r.IPDistinctUsers1h),
		IPSuccessRatio1h:        r.IPSuccessRatio1h,
		DeviceDistinctUsers24h:  int(r.DeviceDistinctUsers24h),
	}
	d := &schemas.Decision{
		EventID:      ev.EventID,
		UserID:       ev.UserID,
		IP:           ev.IP,
		OccurredAt:   ev.OccurredAt,
		DecidedAt:    r.DecidedAt.UTC(),
		Score:        int(r.Score),
		Decision:     schemas.Verdict(r.Decision),
		Reasons:      make([]schemas.Reason, len(r.ReasonRules)),
		RulesVersion: r.RulesVersion,
	}
	if r.LockScope != "" {
		d.Lock = &schemas.Lock{Scope: schemas.LockScope(r.LockScope), Key: r.LockKey, Until: r.LockUntil.UTC(), Rule: r.LockRule}
	}
	for i := range d.Reasons {
		d.Reasons[i].Rule = r.ReasonRules[i]
		if i < len(r.ReasonWeights) {
			d.Reasons[i].Weight = int(r.ReasonWeights[i])
		}
		if i < len(r.ReasonDetails) {
			d.Reasons[i].Detail = r.ReasonDetails[i]
		}
	}
	for i, rule := range r.ShadowRules {
		hit := schemas.ShadowHit{Rule: rule}
		if i < len(r.ShadowWeights) {
			hit.Weight = int(r.ShadowWeights[i])
		}
		d.Shadow = append(d.Shadow, hit)
	}
	return schemas.ScoredEvent{Event: ev, Features: f, Decision: d}
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// count converts a non-negative int feature to UInt32, clamping.
func count(n int) uint32 {
	return uint32(min(max(n, 0), math.MaxUint32))
}

// clampDateTime brings t into the DateTime range (1970 to 2106), UTC.
func clampDateTime(t time.Time) time.Time {
	switch {
	case t.Unix() < 0:
		return epoch
	case t.Unix() > math.MaxUint32:
		return time.Unix(math.MaxUint32, 0).UTC()
	}
	return t.UTC()
}
