package history

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// richFeatures sets every feature to a value of its own, read from the
// feature catalogue so that a new feature is covered too: bools true,
// numbers and strings distinct; the features of the event alone from ev.
func richFeatures(ev *schemas.LoginEvent) *schemas.Features {
	f := new(schemas.Features)
	v := reflect.ValueOf(f).Elem()
	features, _ := schemas.FeatureCatalogue()
	for i, feat := range features {
		switch field := v.Field(feat.Index); feat.Kind {
		case reflect.Bool:
			field.SetBool(true)
		case reflect.Int:
			field.SetInt(int64(i + 1))
		case reflect.Float64:
			field.SetFloat(float64(i) + 0.25)
		case reflect.String:
			field.SetString(feat.Name + " value")
		}
	}
	f.SetEventFeatures(ev)
	return f
}

// richEvent has every field set, to check the round trip through a row.
func richEvent() schemas.ScoredEvent {
	at := time.Date(2026, 3, 1, 10, 30, 15, 123456789, time.UTC)
	se := event("rich-1", "alice", "2001:db8::7", at, schemas.OutcomeFailure, failed("bad_password"))
	ev := se.Event
	ev.UserAgent, ev.DeviceID, ev.AuthMethod, ev.TenantID = "Mozilla/5.0", "dev-1", "password", "t1"
	ev.Attributes = map[string]string{"app": "web", "region": "eu"}
	se.Features = richFeatures(ev)
	se.Decision = &schemas.Decision{
		EventID: "rich-1", UserID: "alice", IP: "2001:db8::7", OccurredAt: at, DecidedAt: at.Add(time.Second).Truncate(time.Second),
		Score: 85, Decision: schemas.VerdictLockout,
		Lock:         &schemas.Lock{Scope: schemas.ScopeUserIP, Key: "alice|2001:db8::/64", TenantID: "t1", Until: at.Add(10 * time.Minute).Truncate(time.Second), Rule: "failure_burst"},
		Reasons:      []schemas.Reason{{Rule: "failure_burst", Weight: 60, Detail: "9 failures"}, {Rule: "new_country", Weight: 25}},
		Shadow:       []schemas.ShadowHit{{Rule: "tor_block", Weight: 100}},
		RulesVersion: "abc123",
	}
	return se
}

// roundTrip passes a record through the column values of a row, as an
// INSERT and a SELECT would: bound, appended as dest's values, scanned
// into a second binding.
func roundTrip(t *testing.T, r *record) *record {
	t.Helper()
	table, err := recordColumns()
	if err != nil {
		t.Fatal(err)
	}
	in, out := table.bind(), table.bind()
	if len(in.dest) != len(table.names) {
		t.Fatalf("%d values for %d columns", len(in.dest), len(table.names))
	}
	in.load(r)
	for i := range in.dest {
		reflect.ValueOf(out.dest[i]).Elem().Set(reflect.ValueOf(in.dest[i]).Elem())
	}
	return out.stored()
}

func TestRecordRoundTrip(t *testing.T) {
	want := richEvent()
	r, err := newRecord(&want, SourceHTTP)
	if err != nil {
		t.Fatal(err)
	}
	assertScoredEqual(t, roundTrip(t, &r).scored(), want)

	// A lock ending mid-second is rounded up, never shortened.
	want.Decision.Lock.Until = want.Decision.Lock.Until.Add(300 * time.Millisecond)
	r, _ = newRecord(&want, SourceKafka)
	if w := want.Decision.Lock.Until.Truncate(time.Second).Add(time.Second); !r.LockUntil.Equal(w) {
		t.Errorf("lock_until %s, want %s", r.LockUntil, w)
	}
}

// TestRecordConvertsFeatures: the bool and int features become UInt8 and
// UInt32 column values, counts clamped to the column's range.
func TestRecordConvertsFeatures(t *testing.T) {
	se := richEvent()
	f := se.Features
	f.UserFailures1m, f.ASN, f.TorExit = -3, math.MaxUint32+5, true
	r, err := newRecord(&se, SourceKafka)
	if err != nil {
		t.Fatal(err)
	}
	table, _ := recordColumns()
	row := table.bind()
	row.load(&r)
	values := map[string]any{}
	for i, name := range table.names {
		values[name] = reflect.ValueOf(row.dest[i]).Elem().Interface()
	}
	for name, want := range map[string]any{
		"user_failures_1m": uint32(0), "asn": uint32(math.MaxUint32), "user_failures_15m": uint32(f.UserFailures15m),
		"tor_exit": uint8(1), "new_city": uint8(1), "travel_km": f.TravelKm, "country": f.Country, "event_id": "rich-1",
	} {
		if values[name] != want {
			t.Errorf("column %s = %#v, want %#v", name, values[name], want)
		}
	}
}

// TestRecordCoversEveryFeature: every feature survives the round trip
// through a row, those without a column recomputed from the event (set
// each to a non-zero value).
func TestRecordCoversEveryFeature(t *testing.T) {
	se := richEvent()
	r, err := newRecord(&se, SourceKafka)
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, &r).scored().Features
	v := reflect.ValueOf(*got)
	for i := range v.NumField() {
		if v.Field(i).IsZero() && v.Type().Field(i).Name != "Success" { // rich-1 is a failure
			t.Errorf("feature %s is lost in the round trip", v.Type().Field(i).Name)
		}
	}
}

func assertScoredEqual(t *testing.T, got, want schemas.ScoredEvent) {
	t.Helper()
	if !reflect.DeepEqual(got.Event, want.Event) {
		t.Errorf("event\n got %+v\nwant %+v", got.Event, want.Event)
	}
	if !reflect.DeepEqual(got.Features, want.Features) {
		t.Errorf("features\n got %+v\nwant %+v", got.Features, want.Features)
	}
	if !reflect.DeepEqual(got.Decision, want.Decision) {
		t.Errorf("decision\n got %+v\nwant %+v", got.Decision, want.Decision)
	}
}

func TestWarmSource(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	london := geo("GB", "London", 20712, "Andrews & Arnold")
	paris := geo("FR", "Paris", 3215, "Orange")
	latLon := func(lat, lon float64) func(*schemas.ScoredEvent) {
		return func(se *schemas.ScoredEvent) { se.Features.Latitude, se.Features.Longitude = lat, lon }
	}
	rich := richEvent()
	a3At := minutes(3.5).Add(250 * time.Millisecond)
	events := []schemas.ScoredEvent{
		event("a1", "alice", "81.2.69.160", minutes(1), schemas.OutcomeSuccess, london, latLon(51.5, -0.1), device("dev-a", true)),
		event("a2", "alice", "81.2.69.161", minutes(2), schemas.OutcomeFailure, london, failed("bad_password"), device("dev-x", true)),
		// The latest success has sub-second time; a3's redelivery below
		// must not count twice.
		event("a3", "alice", "90.1.2.3", a3At, schemas.OutcomeSuccess, paris, latLon(48.85, 2.35), device("dev-b", true)),
		// A challenged success taught nothing when it was scored, so
		// it is not in the profile either (its city, device, network and
		// time would otherwise be).
		event("a4", "alice", "126.72.31.5", minutes(3.7), schemas.OutcomeSuccess, geo("JP", "Tokyo", 2516, "KDDI"),
			decided(schemas.VerdictChallenge, 45), device("dev-evil", true)),
		event("b1", "bob", "198.51.100.20", minutes(4), schemas.OutcomeSuccess),
		event("c1", "carol", "203.0.113.7", minutes(5), schemas.OutcomeFailure, failed("unknown_user")),
		rich,
		// Before Recent's since.
		event("old", "dave", "192.0.2.1", T0.Add(-time.Hour), schemas.OutcomeSuccess),
	}
	if err := w.WriteHistory(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHistory(ctx, events[2:3]); err != nil {
		t.Fatal(err)
	}

	t.Run("profiles", func(t *testing.T) {
		var got []schemas.UserProfile
		err := w.Profiles(ctx, func(p *schemas.UserProfile) error {
			got = append(got, *p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b schemas.UserProfile) int {
			if a.UserID < b.UserID {
				return -1
			}
			return 1
		})
		want := []schemas.UserProfile{
			{UserID: "alice", Countries: []string{"FR", "GB"}, Cities: []string{"FR/Paris", "GB/London"}, ASNs: []int{3215, 20712},
				Devices: []string{"dev-a", "dev-b"}, Networks: []string{"81.2.69.0/24", "90.1.2.0/24"}, SuccessesTotal: 2,
				LastSuccessAt: a3At, LastGeoKnown: true, LastLatitude: 48.85, LastLongitude: 2.35},
			{UserID: "bob", Networks: []string{"198.51.100.0/24"},
				SuccessesTotal: 1, LastSuccessAt: minutes(4)},
			{UserID: "dave", Networks: []string{"192.0.2.0/24"},
				SuccessesTotal: 1, LastSuccessAt: T0.Add(-time.Hour)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("profiles\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("trusted contexts", func(t *testing.T) {
		list := func(since time.Time) []string {
			var out []string
			err := w.TrustedContexts(ctx, since, func(tenant, user string, c schemas.TrustedContext) error {
				out = append(out, fmt.Sprintf("%s %s %s %s %s", user, c.Kind, c.Key, c.FirstSeen.Format(time.RFC3339), c.LastSeen.Format(time.RFC3339)))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		}
		at := func(tm time.Time) string { return tm.UTC().Truncate(time.Second).Format(time.RFC3339) }
		// Allowed successes only: not a2 (a failure), a4 (challenged) or
		// rich-1 (a failure); a3's redelivery counts once.
		want := []string{
			"alice device dev-a " + at(minutes(1)) + " " + at(minutes(1)),
			"alice device dev-b " + at(a3At) + " " + at(a3At),
			"alice network 81.2.69.0/24 " + at(minutes(1)) + " " + at(minutes(1)),
			"alice network 90.1.2.0/24 " + at(a3At) + " " + at(a3At),
			"bob network 198.51.100.0/24 " + at(minutes(4)) + " " + at(minutes(4)),
			"dave network 192.0.2.0/24 " + at(T0.Add(-time.Hour)) + " " + at(T0.Add(-time.Hour)),
		}
		if got := list(T0.Add(-2 * time.Hour)); !slices.Equal(got, want) {
			t.Errorf("trusted contexts\n got %q\nwant %q", got, want)
		}
		// Since a time: older successes are left out.
		if got := list(minutes(2)); !slices.Equal(got, []string{want[1], want[3], want[4]}) {
			t.Errorf("trusted contexts since +2m: %q", got)
		}
	})

	t.Run("recent", func(t *testing.T) {
		var got []schemas.ScoredEvent
		err := w.Recent(ctx, minutes(1), func(se schemas.ScoredEvent) error {
			got = append(got, se)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, se := range got {
			ids = append(ids, se.Event.EventID)
		}
		// In event order, once each, from since on (rich-1 is at 10:30:15).
		if want := []string{"a1", "a2", "a3", "a4", "b1", "c1", "rich-1"}; !slices.Equal(ids, want) {
			t.Fatalf("Recent ids %v, want %v", ids, want)
		}
		assertScoredEqual(t, got[6], rich)
		if got[2].Features.City != "Paris" || !got[2].Event.OccurredAt.Equal(a3At) || !got[2].Event.Addr.IsValid() {
			t.Errorf("a3 read back as %+v / %+v", got[2].Event, got[2].Features)
		}

		// since falls inside a second: the earlier part of it is left out.
		ids = nil
		err = w.Recent(ctx, rich.Event.OccurredAt.Add(time.Nanosecond), func(se schemas.ScoredEvent) error {
			ids = append(ids, se.Event.EventID)
			return nil
		})
		if err != nil || len(ids) != 0 {
			t.Errorf("Recent after rich-1 = %v, %v; want nothing", ids, err)
		}
	})
}

func TestActiveLocks(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	now := minutes(30)
	events := []schemas.ScoredEvent{
		// Active.
		lockoutEvent("l1", "alice", "81.2.69.160", minutes(25), locked(schemas.ScopeUserIP, "alice|81.2.69.160", minutes(40), "failure_burst")),
		// Expired.
		lockoutEvent("l2", "bob", "203.0.113.7", minutes(10), locked(schemas.ScopeIP, "203.0.113.7", minutes(20), "ip_spray")),
		// Lifted by hand after it was set.
		lockoutEvent("l3", "carol", "198.51.100.1", minutes(26), locked(schemas.ScopeDevice, "dev-9", minutes(35), "device_spray")),
		// Lifted, then locked again: the new lock counts.
		lockoutEvent("l4", "dave", "192.0.2.1", minutes(15), locked(schemas.ScopeUser, "dave", minutes(45), "account_takeover")),
		lockoutEvent("l5", "dave", "192.0.2.2", minutes(28), locked(schemas.ScopeUser, "dave", minutes(50), "account_takeover_2")),
		// Escalation on one key: the latest end wins, with its rule.
		lockoutEvent("l6", "erin", "192.0.2.9", minutes(20), locked(schemas.ScopeUserIP, "erin|192.0.2.9", minutes(31), "burst")),
		lockoutEvent("l7", "erin", "192.0.2.9", minutes(29), locked(schemas.ScopeUserIP, "erin|192.0.2.9", minutes(59), "burst_again")),
		// The owner-safe account lock.
		lockoutEvent("l8", "gina", "192.0.2.11", minutes(27), locked(schemas.ScopeUserUntrusted, "gina", minutes(42), "distributed_bruteforce")),
		// No lock.
		event("n1", "frank", "192.0.2.10", minutes(29), schemas.OutcomeFailure),
	}
	if err := w.WriteHistory(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, a := range []AdminAction{
		{At: minutes(27), Actor: "ops", Action: ActionLiftLock, Scope: schemas.ScopeDevice, Key: "dev-9", Detail: "customer called"},
		{At: minutes(20), Actor: "ops", Action: ActionLiftLock, Scope: schemas.ScopeUser, Key: "dave"},
		// A lift of another key does not matter.
		{At: minutes(29), Actor: "ops", Action: ActionLiftLock, Scope: schemas.ScopeUserIP, Key: "alice|10.0.0.1"},
	} {
		if err := w.RecordAdminAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.RecordAdminAction(ctx, AdminAction{Action: ActionLiftLock, Scope: "planet"}); err == nil {
		t.Error("RecordAdminAction accepted a lift without a valid scope and key")
	}

	got, err := w.ActiveLocks(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Lock{
		{Scope: schemas.ScopeUser, Key: "dave", Until: minutes(50), Rule: "account_takeover_2"},
		{Scope: schemas.ScopeUserIP, Key: "alice|81.2.69.160", Until: minutes(40), Rule: "failure_burst"},
		{Scope: schemas.ScopeUserIP, Key: "erin|192.0.2.9", Until: minutes(59), Rule: "burst_again"},
		{Scope: schemas.ScopeUserUntrusted, Key: "gina", Until: minutes(42), Rule: "distributed_bruteforce"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ActiveLocks\n got %+v\nwant %+v", got, want)
	}
	// Later, only the longest lock is left.
	got, err = w.ActiveLocks(context.Background(), minutes(55))
	if err != nil || len(got) != 1 || got[0].Key != "erin|192.0.2.9" {
		t.Errorf("ActiveLocks at +55m = %+v, %v", got, err)
	}
}
