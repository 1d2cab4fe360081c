package history

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestWarmUpKeepsTenantsApart: bob of acme (London), bob of globex (Tokyo)
// and bob of the default tenant (Paris) log in for days; then dave of acme
// is locked out of one address, and the engine restarts. The warmed engine
// must know three bobs, each with his own profile, read back from the
// profiles aggregate (their logins are older than the replayed span), and
// the lock of acme's dave, not globex's: every later attempt gets the
// features and the decision of the engine that never stopped.
func TestWarmUpKeepsTenantsApart(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	script := newLoginScript(t, 14)
	add := func(tenant, user, ip string, at time.Duration, outcome schemas.Outcome) {
		script.addLogin(schemas.LoginEvent{EventID: fmt.Sprintf("%s-%s-%d", tenant, user, len(script.evs)), TenantID: tenant, UserID: user, IP: ip, Outcome: outcome}, at)
	}
	for day := range 3 {
		for i := range 3 {
			at := time.Duration(day)*24*time.Hour + time.Duration(i)*time.Hour
			add("acme", "bob", cityIP("London", 1), at, schemas.OutcomeSuccess)
			add("globex", "bob", cityIP("Tokyo", 1), at+10*time.Minute, schemas.OutcomeSuccess)
			add("", "bob", cityIP("Paris", 1), at+20*time.Minute, schemas.OutcomeSuccess)
		}
	}
	attacked := cityIP("Paris", 9)
	for i := range 6 {
		add("acme", "dave", attacked, 5*24*time.Hour+time.Duration(i)*10*time.Second, schemas.OutcomeFailure)
	}
	restartAfter := len(script.evs)
	later := 5*24*time.Hour + 5*time.Minute
	add("acme", "bob", cityIP("London", 1), later, schemas.OutcomeSuccess)
	add("globex", "bob", cityIP("Tokyo", 1), later+time.Minute, schemas.OutcomeSuccess)
	add("", "bob", cityIP("Paris", 1), later+2*time.Minute, schemas.OutcomeSuccess)
	add("acme", "dave", attacked, later+3*time.Minute, schemas.OutcomeSuccess)
	add("globex", "dave", attacked, later+4*time.Minute, schemas.OutcomeSuccess)
	evs := script.evs

	first := warmEngine(t, w)
	stored, _ := scoreAndStore(t, first, w, evs[:restartAfter])
	lock := first.UserStatus("acme", "dave", script.base.Add(later))
	if len(lock.Locks) != 1 || lock.Locks[0].TenantID != "acme" || lock.Locks[0].Key != "dave|"+attacked {
		t.Fatalf("before the restart acme's dave has locks %+v, want one user_ip lock on %s in tenant acme", lock.Locks, attacked)
	}

	active, err := w.ActiveLocks(ctx, evs[restartAfter-1].OccurredAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0] != lock.Locks[0] {
		t.Errorf("ActiveLocks %+v, want acme's dave's lock %+v", active, lock.Locks[0])
	}

	second := warmEngine(t, w)
	st, err := second.WarmUp(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if st.Profiles != 3 {
		t.Errorf("warm-up loaded %d profiles, want 3 (a bob per tenant)", st.Profiles)
	}
	for _, ev := range evs[restartAfter-6 : restartAfter] { // redelivered: the stored decision, lock tenant included
		if sc := scoreCopy(t, second, ev); !sc.Duplicate || !bytes.Equal(encodedWithout(t, sc.Decision), stored[ev.EventID]) {
			t.Errorf("redelivered %s: duplicate %v\n got %s\nwant %s", ev.EventID, sc.Duplicate, encodedWithout(t, sc.Decision), stored[ev.EventID])
		}
	}
	wantVerdict := []schemas.Verdict{schemas.VerdictAllow, schemas.VerdictAllow, schemas.VerdictAllow, schemas.VerdictLockout, schemas.VerdictAllow}
	for i, ev := range evs[restartAfter:] {
		want, got := scoreCopy(t, first, ev), scoreCopy(t, second, ev)
		if w, g := encodedWithout(t, want.Decision), encodedWithout(t, got.Decision); !bytes.Equal(w, g) {
			t.Errorf("%s after the restart:\n got %s\nwant %s", ev.EventID, g, w)
		}
		wf, gf := want.Features, got.Features
		if gf.UserKnown != wf.UserKnown || gf.UserSuccessesTotal != wf.UserSuccessesTotal || gf.NewCity != wf.NewCity || gf.TravelKm != wf.TravelKm {
			t.Errorf("%s after the restart: known %v, %d successes, new city %v, travel %.0f km; the engine that never stopped: %v, %d, %v, %.0f",
				ev.EventID, gf.UserKnown, gf.UserSuccessesTotal, gf.NewCity, gf.TravelKm, wf.UserKnown, wf.UserSuccessesTotal, wf.NewCity, wf.TravelKm)
		}
		if got.Decision.Decision != wantVerdict[i] {
			t.Errorf("%s after the restart: %s %+v, want %s", ev.EventID, got.Decision.Decision, got.Decision.Reasons, wantVerdict[i])
		}
		if ev.UserID == "bob" && (!gf.UserKnown || gf.UserSuccessesTotal != 9 || gf.NewCity || gf.TravelKm != 0) {
			t.Errorf("%s after the restart: known %v, %d successes, new city %v, travel %.0f km; want his own 9 logins at home",
				ev.EventID, gf.UserKnown, gf.UserSuccessesTotal, gf.NewCity, gf.TravelKm)
		}
	}
}

// TestActiveLocksTenants: a user lock is read back per tenant (the tenant
// of the events that set it), an address lock set by the events of two
// tenants is one lock with no tenant.
func TestActiveLocksTenants(t *testing.T) {
	_, w := recordingDatabase(t)
	ctx := testContext(t)
	lockout := decided(schemas.VerdictLockout, 80, schemas.Reason{Rule: "r", Weight: 80})
	events := []schemas.ScoredEvent{
		event("t1", "bob", "192.0.2.1", minutes(20), schemas.OutcomeFailure, lockout, tenant("acme"),
			locked(schemas.ScopeUser, "bob", minutes(40), "acme_rule")),
		event("t2", "bob", "192.0.2.2", minutes(21), schemas.OutcomeFailure, lockout, tenant("globex"),
			locked(schemas.ScopeUser, "bob", minutes(45), "globex_rule")),
		event("t3", "carol", "203.0.113.5", minutes(22), schemas.OutcomeFailure, lockout, tenant("acme"),
			locked(schemas.ScopeIP, "203.0.113.5", minutes(50), "ip_first")),
		event("t4", "carol", "203.0.113.5", minutes(23), schemas.OutcomeFailure, lockout, tenant("globex"),
			locked(schemas.ScopeIP, "203.0.113.5", minutes(55), "ip_second")),
	}
	if err := w.WriteHistory(ctx, events); err != nil {
		t.Fatal(err)
	}
	got, err := w.ActiveLocks(ctx, minutes(30))
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Lock{
		{Scope: schemas.ScopeIP, Key: "203.0.113.5", Until: minutes(55), Rule: "ip_second"},
		{Scope: schemas.ScopeUser, Key: "bob", TenantID: "acme", Until: minutes(40), Rule: "acme_rule"},
		{Scope: schemas.ScopeUser, Key: "bob", TenantID: "globex", Until: minutes(45), Rule: "globex_rule"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ActiveLocks\n got %+v\nwant %+v", got, want)
	}
}

// TestAnalystQueriesTenants: the per-account queries keep the same user id
// of two tenants apart: a timeline is one tenant's user's, accounts under
// attack are counted per tenant, and a new device of acme's bob is not
// followed by the MFA failure of globex's bob.
func TestAnalystQueriesTenants(t *testing.T) {
	dsn, w := recordingDatabase(t)
	mfa := func(se *schemas.ScoredEvent) {
		failed("mfa_failed")(se)
		se.Event.AuthMethod, se.Features.AuthMethod = "mfa", "mfa"
	}
	fail, ok := schemas.OutcomeFailure, schemas.OutcomeSuccess
	const ip = "203.0.113.7"
	events := []schemas.ScoredEvent{
		event("a1", "bob", ip, minutes(1), fail, failed("bad_password"), tenant("acme")),
		event("a2", "bob", ip, minutes(2), fail, failed("bad_password"), tenant("acme")),
		event("a3", "bob", ip, minutes(3), fail, failed("bad_password"), tenant("acme")),
		event("g1", "bob", ip, minutes(4), fail, failed("bad_password"), tenant("globex")),
		event("g2", "bob", ip, minutes(5), fail, failed("bad_password"), tenant("globex")),
		event("d1", "bob", ip, minutes(6), fail, failed("bad_password")),
		event("a4", "bob", "81.2.69.160", minutes(20), ok, device("dev-new", true), tenant("acme")),
		event("g3", "bob", "126.72.31.5", minutes(22), fail, mfa, tenant("globex")),
	}
	if err := w.WriteHistory(testContext(t), events); err != nil {
		t.Fatal(err)
	}
	period := map[string]string{"from": "2026-03-01T10:00:00Z", "to": "2026-03-01T11:00:00Z"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{"from": period["from"], "to": period["to"]}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	column := func(columns []string, rows [][]any, name string) []string {
		i := slices.Index(columns, name)
		if i < 0 {
			t.Fatalf("no column %s in %q", name, columns)
		}
		var out []string
		for _, row := range rows {
			out = append(out, FormatValue(row[i]))
		}
		return out
	}
	tests := []struct {
		name, query string
		params      map[string]string
		column      string
		want        []string
	}{
		{"acme's bob's timeline", "user_timeline", with("user_id", "bob", "tenant", "acme"), "event_id", []string{"a1", "a2", "a3", "a4"}},
		{"globex's bob's timeline", "user_timeline", with("user_id", "bob", "tenant", "globex"), "event_id", []string{"g1", "g2", "g3"}},
		{"the default tenant's bob's timeline", "user_timeline", with("user_id", "bob"), "event_id", []string{"d1"}},
		{"accounts under attack, tenants", "accounts_under_attack", with("min_failures", "1"), "tenant_id", []string{"acme", "globex", ""}},
		{"accounts under attack, failures", "accounts_under_attack", with("min_failures", "1"), "failures", []string{"3", "3", "1"}},
		{"new device then another tenant's mfa failure", "new_device_then_mfa_failed", with(), "user_id", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			columns, rows, err := RunQuery(testContext(t), dsn, tt.query, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if got := column(columns, rows, tt.column); !slices.Equal(got, tt.want) {
				t.Errorf("%s: %q, want %q", tt.column, got, tt.want)
			}
		})
	}
}
