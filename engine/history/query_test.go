package history

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
	chschema "github.com/loginrisk/loginrisk/schemas/clickhouse"
)

// analystDataset is the history the analyst queries are checked on: an
// address spraying five accounts and locking two, a second address of the
// same network, a smaller source with shadow-rule hits, two new-device
// logins followed by MFA failures (one within 10 minutes), impossible
// travel candidates, and one event in the next hour.
func analystDataset() []schemas.ScoredEvent {
	const a, b, c, d = "203.0.113.7", "203.0.113.9", "198.51.100.20", "81.2.69.160"
	nl := geo("NL", "Amsterdam", 64500, "BadHost")
	us := geo("US", "Ashburn", 64501, "Cloudy")
	gb := geo("GB", "London", 20712, "Andrews")
	spray := schemas.Reason{Rule: "ip_spray", Weight: 40}
	burst := schemas.Reason{Rule: "failure_burst", Weight: 40, Detail: "5 failures in 15m"}
	sprayV2 := shadow(schemas.ShadowHit{Rule: "spray_v2", Weight: 30})
	challenged := decided(schemas.VerdictChallenge, 40, spray)
	lockedOut := decided(schemas.VerdictLockout, 80, spray, burst)
	badPassword := failed("bad_password")
	mfa := func(se *schemas.ScoredEvent) {
		failed("mfa_failed")(se)
		se.Event.AuthMethod, se.Features.AuthMethod = "mfa", "mfa"
	}
	travel := func(km, kmh, seconds float64) func(*schemas.ScoredEvent) {
		return func(se *schemas.ScoredEvent) {
			se.Features.TravelKm, se.Features.TravelSpeedKmh, se.Features.SecondsSinceLastSuccess = km, kmh, seconds
		}
	}
	fail, ok := schemas.OutcomeFailure, schemas.OutcomeSuccess
	return []schemas.ScoredEvent{
		event("a1", "u1", a, minutes(1), fail, nl, badPassword, challenged),
		event("a2", "u2", a, minutes(2), fail, nl, badPassword, challenged),
		event("a3", "u3", a, minutes(3), fail, nl, badPassword, challenged),
		event("a4", "u4", a, minutes(4), fail, nl, badPassword, challenged),
		event("a5", "u5", a, minutes(5), fail, nl, badPassword, challenged),
		event("a6", "u1", a, minutes(6), fail, nl, badPassword, challenged),
		event("a7", "u2", a, minutes(7), fail, nl, badPassword, challenged),
		event("a8", "u3", a, minutes(8), fail, nl, badPassword, challenged),
		event("a9", "u1", a, minutes(9), fail, nl, badPassword, lockedOut, locked(schemas.ScopeUserIP, "u1|"+a, minutes(19), "failure_burst")),
		event("a10", "u2", a, minutes(10), fail, nl, badPassword, lockedOut, sprayV2, locked(schemas.ScopeUserIP, "u2|"+a, minutes(20), "failure_burst")),
		event("b1", "u1", b, minutes(11), fail, nl, badPassword, challenged),
		event("b2", "u6", b, minutes(12), fail, nl, badPassword, challenged),
		event("b3", "u1", b, minutes(13), fail, nl, badPassword, challenged),
		event("b4", "u6", b, minutes(14), fail, nl, badPassword, challenged),
		event("c1", "u7", c, minutes(15), fail, us, badPassword, sprayV2),
		event("c2", "u7", c, minutes(16), fail, us, badPassword, sprayV2),
		event("c3", "u7", c, minutes(17), ok, us),
		event("d1", "alice", d, minutes(30), ok, gb, device("dev-new-a", true),
			decided(schemas.VerdictAllow, 10, schemas.Reason{Rule: "new_device", Weight: 10, Detail: "device dev-new-a never seen"})),
		event("d2", "alice", d, minutes(33), fail, gb, mfa, device("dev-new-a", false),
			decided(schemas.VerdictChallenge, 30, schemas.Reason{Rule: "mfa_fail", Weight: 30})),
		event("d3", "bob", d, minutes(40), ok, gb, device("dev-new-b", true), decided(schemas.VerdictAllow, 10, schemas.Reason{Rule: "new_device", Weight: 10})),
		event("d4", "bob", d, minutes(55), fail, gb, mfa, decided(schemas.VerdictChallenge, 30, schemas.Reason{Rule: "mfa_fail", Weight: 30})),
		event("t1", "carol", "1.0.16.1", minutes(50), ok, geo("JP", "Tokyo", 2519, "ARTERIA"), travel(9500, 19000, 1800),
			decided(schemas.VerdictChallenge, 50, schemas.Reason{Rule: "impossible_travel", Weight: 50})),
		event("t2", "dave", "192.0.2.10", minutes(51), ok, geo("FR", "Paris", 3215, "Orange"), travel(100, 1000, 360)),
		event("t3", "erin", "192.0.2.11", minutes(52), ok, geo("DE", "Berlin", 3320, "DTAG"), travel(800, 500, 5760)),
		event("x1", "frank", "192.0.2.10", minutes(70), ok, geo("FR", "Paris", 3215, "Orange")),
	}
}

// analystFeedback labels decisions of analystDataset: a2 is labelled
// twice (the latest label counts) and c1, an allow, once.
func analystFeedback() []schemas.Feedback {
	label := func(id string, l schemas.FeedbackLabel, m float64) schemas.Feedback {
		return schemas.Feedback{EventID: id, At: minutes(m), Label: l, Actor: "soc", Note: "checked " + id}
	}
	return []schemas.Feedback{
		label("a1", schemas.LabelFalsePositive, 60),
		label("a2", schemas.LabelFalsePositive, 61),
		label("a2", schemas.LabelConfirmedAttack, 62),
		label("a9", schemas.LabelConfirmedAttack, 63),
		label("c1", schemas.LabelExpected, 64),
		label("d2", schemas.LabelExpected, 65),
	}
}

// writeAnalystData stores analystDataset and analystFeedback.
func writeAnalystData(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.WriteHistory(testContext(t), analystDataset()); err != nil {
		t.Fatal(err)
	}
	for _, fb := range analystFeedback() {
		if err := w.RecordFeedback(testContext(t), fb); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFeedbackLabels checks that the latest label of each event is read
// back with the decision history recorded for it.
func TestFeedbackLabels(t *testing.T) {
	_, w := recordingDatabase(t)
	writeAnalystData(t, w)
	if err := w.RecordFeedback(testContext(t), schemas.Feedback{EventID: "a1", At: minutes(1), Label: "fine"}); err == nil {
		t.Error("RecordFeedback accepted an unknown label")
	}
	got, err := w.FeedbackLabels(testContext(t), minutes(0), minutes(120))
	if err != nil {
		t.Fatal(err)
	}
	want := []LabelledDecision{
		{"a1", schemas.LabelFalsePositive, schemas.VerdictChallenge},
		{"a2", schemas.LabelConfirmedAttack, schemas.VerdictChallenge},
		{"a9", schemas.LabelConfirmedAttack, schemas.VerdictLockout},
		{"c1", schemas.LabelExpected, schemas.VerdictAllow},
		{"d2", schemas.LabelExpected, schemas.VerdictChallenge},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FeedbackLabels\n got %v\nwant %v", got, want)
	}
	// Only the labels given in the period count.
	got, err = w.FeedbackLabels(testContext(t), minutes(63), minutes(64))
	if err != nil || len(got) != 1 || got[0].EventID != "a9" {
		t.Errorf("FeedbackLabels of one minute = %v, %v; want a9's", got, err)
	}
}

func TestAnalystQueries(t *testing.T) {
	dsn, w := recordingDatabase(t)
	writeAnalystData(t, w)
	const (
		t0    = "2026-03-01T10:00:00Z"
		t1h   = "2026-03-01T11:00:00Z"
		t2h   = "2026-03-01T12:00:00Z"
		empty = ""
	)
	at := func(m float64) string { return FormatValue(minutes(m)) }
	hour := map[string]string{"from": t0, "to": t1h}
	twoHours := map[string]string{"from": t0, "to": t2h}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := make(map[string]string, len(base)+len(kv)/2)
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		query   string
		params  map[string]string
		columns []string
		rows    [][]string
	}{
		{
			name: "top attacking ips", query: "top_attacking_ips", params: with(hour, "limit", "3"),
			columns: []string{"ip", "network", "country", "asn", "as_org", "failures", "attempts", "successes", "lockouts", "failed_users", "users", "first_hour", "last_hour"},
			rows: [][]string{
				{"203.0.113.7", "203.0.113.0/24", "NL", "64500", "BadHost", "10", "10", "0", "2", "5", "5", t0, t0},
				{"203.0.113.9", "203.0.113.0/24", "NL", "64500", "BadHost", "4", "4", "0", "0", "2", "2", t0, t0},
				{"198.51.100.20", "198.51.100.0/24", "US", "64501", "Cloudy", "2", "3", "1", "0", "1", "1", t0, t0},
			},
		},
		{
			name: "top attacking ips with min_failures", query: "top_attacking_ips", params: with(hour, "min_failures", "5"),
			columns: []string{"ip", "network", "country", "asn", "as_org", "failures", "attempts", "successes", "lockouts", "failed_users", "users", "first_hour", "last_hour"},
			rows:    [][]string{{"203.0.113.7", "203.0.113.0/24", "NL", "64500", "BadHost", "10", "10", "0", "2", "5", "5", t0, t0}},
		},
		{
			name: "top attacking networks", query: "top_attacking_networks", params: hour,
			columns: []string{"network", "asn", "as_org", "country", "failures", "attempts", "successes", "failing_ips", "failed_users", "users"},
			rows: [][]string{
				{"203.0.113.0/24", "64500", "BadHost", "NL", "14", "14", "0", "2", "6", "6"},
				{"198.51.100.0/24", "64501", "Cloudy", "US", "2", "3", "1", "1", "1", "1"},
				{"81.2.69.0/24", "20712", "Andrews", "GB", "2", "4", "2", "1", "2", "2"},
			},
		},
		{
			name: "accounts under attack", query: "accounts_under_attack", params: with(hour, "min_failures", "2"),
			columns: []string{"tenant_id", "user_id", "failures", "failing_ips", "failing_networks", "failing_countries", "lockouts", "successes", "first_failure", "last_failure", "last_success"},
			rows: [][]string{
				{"", "u1", "5", "2", "1", "1", "1", "0", at(1), at(13), empty},
				{"", "u2", "3", "1", "1", "1", "1", "0", at(2), at(10), empty},
				{"", "u3", "2", "1", "1", "1", "0", "0", at(3), at(8), empty},
				{"", "u6", "2", "1", "1", "1", "0", "0", at(12), at(14), empty},
				{"", "u7", "2", "1", "1", "1", "0", "1", at(15), at(16), at(17)},
			},
		},
		{
			name: "decisions per hour", query: "decisions_over_time", params: twoHours,
			columns: []string{"bucket", "events", "allow", "challenge", "lockout", "failures", "avg_score", "users", "ips"},
			rows: [][]string{
				{t0, "24", "7", "15", "2", "18", "32.1", "12", "7"},
				{t1h, "1", "1", "0", "0", "0", "0", "1", "1"},
			},
		},
		{
			name: "decisions per two hours", query: "decisions_over_time", params: with(twoHours, "bucket_hours", "2"),
			columns: []string{"bucket", "events", "allow", "challenge", "lockout", "failures", "avg_score", "users", "ips"},
			rows:    [][]string{{t0, "25", "8", "15", "2", "18", "30.8", "13", "7"}},
		},
		{
			name: "rule hit rates", query: "rule_hit_rates", params: map[string]string{"from": "2026-03-01", "to": "2026-03-01"},
			columns: []string{"rule", "mode", "hits", "hit_rate", "avg_weight", "on_allow", "on_challenge", "on_lockout"},
			rows: [][]string{
				{"ip_spray", "active", "14", "0.56", "40", "0", "12", "2"},
				{"failure_burst", "active", "2", "0.08", "40", "0", "0", "2"},
				{"mfa_fail", "active", "2", "0.08", "30", "0", "2", "0"},
				{"new_device", "active", "2", "0.08", "10", "2", "0", "0"},
				{"impossible_travel", "active", "1", "0.04", "50", "0", "1", "0"},
				{"spray_v2", "shadow", "3", "0.12", "30", "2", "0", "1"},
			},
		},
		{
			name: "user timeline", query: "user_timeline", params: with(hour, "user_id", "u1"),
			columns: []string{"occurred_at", "event_id", "outcome", "failure_reason", "auth_method", "ip", "country", "city", "asn", "device_key",
				"new_device", "score", "decision", "lock", "reasons", "shadow", "rules_version"},
			rows: [][]string{
				{at(1), "a1", "failure", "bad_password", "", "203.0.113.7", "NL", "Amsterdam", "64500", "", "0", "40", "challenge", "", "ip_spray(40)", "", "v1"},
				{at(6), "a6", "failure", "bad_password", "", "203.0.113.7", "NL", "Amsterdam", "64500", "", "0", "40", "challenge", "", "ip_spray(40)", "", "v1"},
				{at(9), "a9", "failure", "bad_password", "", "203.0.113.7", "NL", "Amsterdam", "64500", "", "0", "80", "lockout",
					"user_ip u1|203.0.113.7 until 2026-03-01 10:19:00", "ip_spray(40); failure_burst(40): 5 failures in 15m", "", "v1"},
				{at(11), "b1", "failure", "bad_password", "", "203.0.113.9", "NL", "Amsterdam", "64500", "", "0", "40", "challenge", "", "ip_spray(40)", "", "v1"},
				{at(13), "b3", "failure", "bad_password", "", "203.0.113.9", "NL", "Amsterdam", "64500", "", "0", "40", "challenge", "", "ip_spray(40)", "", "v1"},
			},
		},
		{
			name: "user timeline with shadow hits", query: "user_timeline", params: with(hour, "user_id", "u2", "limit", "1", "from", "2026-03-01T10:09:00Z"),
			columns: []string{"occurred_at", "event_id", "outcome", "failure_reason", "auth_method", "ip", "country", "city", "asn", "device_key",
				"new_device", "score", "decision", "lock", "reasons", "shadow", "rules_version"},
			rows: [][]string{
				{at(10), "a10", "failure", "bad_password", "", "203.0.113.7", "NL", "Amsterdam", "64500", "", "0", "80", "lockout",
					"user_ip u2|203.0.113.7 until 2026-03-01 10:20:00", "ip_spray(40); failure_burst(40): 5 failures in 15m", "spray_v2(30)", "v1"},
			},
		},
		{
			name: "address timeline", query: "address_timeline", params: with(hour, "address", "203.0.113.9", "limit", "3"),
			columns: []string{"occurred_at", "event_id", "tenant_id", "user_id", "outcome", "failure_reason", "ip", "network", "country", "city", "asn", "device_key",
				"score", "decision", "lock", "reasons", "rules_version"},
			rows: [][]string{
				{at(11), "b1", "", "u1", "failure", "bad_password", "203.0.113.9", "203.0.113.0/24", "NL", "Amsterdam", "64500", "", "40", "challenge", "", "ip_spray(40)", "v1"},
				{at(12), "b2", "", "u6", "failure", "bad_password", "203.0.113.9", "203.0.113.0/24", "NL", "Amsterdam", "64500", "", "40", "challenge", "", "ip_spray(40)", "v1"},
				{at(13), "b3", "", "u1", "failure", "bad_password", "203.0.113.9", "203.0.113.0/24", "NL", "Amsterdam", "64500", "", "40", "challenge", "", "ip_spray(40)", "v1"},
			},
		},
		{
			name: "network timeline", query: "address_timeline", params: with(hour, "address", "198.51.100.0/24"),
			columns: []string{"occurred_at", "event_id", "tenant_id", "user_id", "outcome", "failure_reason", "ip", "network", "country", "city", "asn", "device_key",
				"score", "decision", "lock", "reasons", "rules_version"},
			rows: [][]string{
				{at(15), "c1", "", "u7", "failure", "bad_password", "198.51.100.20", "198.51.100.0/24", "US", "Ashburn", "64501", "", "0", "allow", "", "", "v1"},
				{at(16), "c2", "", "u7", "failure", "bad_password", "198.51.100.20", "198.51.100.0/24", "US", "Ashburn", "64501", "", "0", "allow", "", "", "v1"},
				{at(17), "c3", "", "u7", "success", "", "198.51.100.20", "198.51.100.0/24", "US", "Ashburn", "64501", "", "0", "allow", "", "", "v1"},
			},
		},
		{
			name: "impossible travel", query: "impossible_travel_cases", params: twoHours,
			columns: []string{"occurred_at", "tenant_id", "user_id", "event_id", "outcome", "ip", "country", "city", "distance_km", "speed_kmh", "seconds_since_last", "score", "decision"},
			rows:    [][]string{{at(50), "", "carol", "t1", "success", "1.0.16.1", "JP", "Tokyo", "9500", "19000", "1800", "50", "challenge"}},
		},
		{
			name: "impossible travel, shorter distances", query: "impossible_travel_cases", params: with(twoHours, "min_km", "50"),
			columns: []string{"occurred_at", "tenant_id", "user_id", "event_id", "outcome", "ip", "country", "city", "distance_km", "speed_kmh", "seconds_since_last", "score", "decision"},
			rows: [][]string{
				{at(50), "", "carol", "t1", "success", "1.0.16.1", "JP", "Tokyo", "9500", "19000", "1800", "50", "challenge"},
				{at(51), "", "dave", "t2", "success", "192.0.2.10", "FR", "Paris", "100", "1000", "360", "0", "allow"},
			},
		},
		{
			name: "new device then mfa failed", query: "new_device_then_mfa_failed", params: twoHours,
			columns: []string{"tenant_id", "user_id", "login_at", "login_event_id", "device_key", "login_ip", "login_country", "mfa_at", "mfa_event_id", "mfa_ip", "seconds_between"},
			rows:    [][]string{{"", "alice", at(30), "d1", "dev-new-a", "81.2.69.160", "GB", at(33), "d2", "81.2.69.160", "180"}},
		},
		{
			name: "new device then mfa failed within 20 minutes", query: "new_device_then_mfa_failed", params: with(twoHours, "within_minutes", "20"),
			columns: []string{"tenant_id", "user_id", "login_at", "login_event_id", "device_key", "login_ip", "login_country", "mfa_at", "mfa_event_id", "mfa_ip", "seconds_between"},
			rows: [][]string{
				{"", "alice", at(30), "d1", "dev-new-a", "81.2.69.160", "GB", at(33), "d2", "81.2.69.160", "180"},
				{"", "bob", at(40), "d3", "dev-new-b", "81.2.69.160", "GB", at(55), "d4", "81.2.69.160", "900"},
			},
		},
		{
			name: "rule precision", query: "rule_precision", params: twoHours,
			columns: []string{"rule", "labelled", "confirmed_attacks", "expected", "false_positives", "precision"},
			rows: [][]string{
				{"ip_spray", "3", "2", "0", "1", "0.6667"},
				{"failure_burst", "1", "1", "0", "0", "1"},
				{"mfa_fail", "1", "0", "1", "0", "1"},
			},
		},
		{
			name: "open challenges", query: "open_challenges", params: with(twoHours, "limit", "2"),
			columns: []string{"occurred_at", "event_id", "tenant_id", "user_id", "ip", "decision", "score", "lock", "rules"},
			rows: [][]string{
				{at(3), "a3", "", "u3", "203.0.113.7", "challenge", "40", "", "ip_spray"},
				{at(4), "a4", "", "u4", "203.0.113.7", "challenge", "40", "", "ip_spray"},
			},
		},
		{
			name: "open challenges and lockouts of the last part", query: "open_challenges", params: with(twoHours, "from", "2026-03-01T10:09:00Z"),
			columns: []string{"occurred_at", "event_id", "tenant_id", "user_id", "ip", "decision", "score", "lock", "rules"},
			rows: [][]string{
				{at(10), "a10", "", "u2", "203.0.113.7", "lockout", "80", "user_ip u2|203.0.113.7 until 2026-03-01 10:20:00", "ip_spray, failure_burst"},
				{at(11), "b1", "", "u1", "203.0.113.9", "challenge", "40", "", "ip_spray"},
				{at(12), "b2", "", "u6", "203.0.113.9", "challenge", "40", "", "ip_spray"},
				{at(13), "b3", "", "u1", "203.0.113.9", "challenge", "40", "", "ip_spray"},
				{at(14), "b4", "", "u6", "203.0.113.9", "challenge", "40", "", "ip_spray"},
				{at(50), "t1", "", "carol", "1.0.16.1", "challenge", "50", "", "impossible_travel"},
				{at(55), "d4", "", "bob", "81.2.69.160", "challenge", "30", "", "mfa_fail"},
			},
		},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.query] = true
		t.Run(tt.name, func(t *testing.T) {
			columns, rows, err := RunQuery(testContext(t), dsn, tt.query, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(columns, tt.columns) {
				t.Errorf("columns\n got %q\nwant %q", columns, tt.columns)
			}
			got := make([][]string, len(rows))
			for i, row := range rows {
				for _, v := range row {
					got[i] = append(got[i], FormatValue(v))
				}
			}
			if !reflect.DeepEqual(got, tt.rows) {
				t.Errorf("rows\n got %q\nwant %q", got, tt.rows)
			}
		})
	}
	all, err := chschema.Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range all {
		if !covered[q.Name] {
			t.Errorf("query %s has no test case", q.Name)
		}
	}
	if _, _, err := RunQuery(testContext(t), dsn, "user_timeline", nil); err == nil || !strings.Contains(err.Error(), "user_id") {
		t.Errorf("RunQuery without a required parameter = %v", err)
	}
	if _, _, err := RunQuery(testContext(t), dsn, "nope", nil); err == nil || !strings.Contains(err.Error(), "unknown query") {
		t.Errorf("RunQuery of an unknown query = %v", err)
	}
}

func TestFormatTable(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	empty := (*time.Time)(nil)
	columns := []string{"ip", "failures", "ratio", "rules", "first", "last"}
	rows := [][]any{
		{"203.0.113.7", uint64(10), 0.5, []string{"a", "b"}, at, &at},
		{"it's, \"quoted\"", uint64(2), float64(1), []string{}, at, empty},
	}
	tests := []struct {
		format string
		want   string
	}{
		{"table", "ip              failures  ratio  rules  first                 last\n" +
			"203.0.113.7     10        0.5    a,b    2026-03-01T10:00:00Z  2026-03-01T10:00:00Z\n" +
			"it's, \"quoted\"  2         1             2026-03-01T10:00:00Z  \n"},
		{"csv", "ip,failures,ratio,rules,first,last\n" +
			"203.0.113.7,10,0.5,\"a,b\",2026-03-01T10:00:00Z,2026-03-01T10:00:00Z\n" +
			"\"it's, \"\"quoted\"\"\",2,1,,2026-03-01T10:00:00Z,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := FormatTable(&b, columns, rows, tt.format); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		var b bytes.Buffer
		if err := FormatTable(&b, columns, rows, "json"); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%v in\n%s", err, b.String())
		}
		want := []map[string]any{
			{"ip": "203.0.113.7", "failures": 10.0, "ratio": 0.5, "rules": []any{"a", "b"}, "first": "2026-03-01T10:00:00Z", "last": "2026-03-01T10:00:00Z"},
			{"ip": "it's, \"quoted\"", "failures": 2.0, "ratio": 1.0, "rules": []any{}, "first": "2026-03-01T10:00:00Z", "last": nil},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v\nwant %v", got, want)
		}
		if !strings.HasPrefix(b.String(), "[\n  {\"ip\": ") {
			t.Errorf("keys are not in column order:\n%s", b.String())
		}
	})
	var b bytes.Buffer
	if err := FormatTable(&b, columns, rows, "xml"); err == nil {
		t.Error("FormatTable accepted format xml")
	}
}
