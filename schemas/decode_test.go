package schemas

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const validEvent = `{"event_id":"e1","occurred_at":"2026-03-01T10:00:00Z","user_id":"alice","outcome":"failure","ip":"81.2.69.160","user_agent":"Mozilla/5.0","device_id":"d1","failure_reason":"bad_password","auth_method":"password","tenant_id":"t1","password_fp":"q3Zt0b9-x_2LmN4k","attributes":{"app":"web"}}`

// withField returns validEvent with one field replaced by raw JSON, or
// removed when raw is "".
// withChallengeOf is validEvent with a challenge_of field of raw JSON.
func withChallengeOf(raw string) string {
	return strings.Replace(validEvent, `,"attributes"`, `,"challenge_of":`+raw+`,"attributes"`, 1)
}

func withField(t *testing.T, field, raw string) string {
	t.Helper()
	i := strings.Index(validEvent, `"`+field+`":`)
	if i < 0 {
		t.Fatalf("field %s not in validEvent", field)
	}
	j := i + len(field) + 3
	depth, inStr := 0, false
	end := j
	for ; end < len(validEvent); end++ {
		c := validEvent[end]
		if inStr {
			if c == '\\' {
				end++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		} else if c == '{' {
			depth++
		} else if c == '}' {
			if depth == 0 {
				break
			}
			depth--
		} else if c == ',' && depth == 0 {
			break
		}
	}
	if raw == "" {
		s := validEvent[:i] + validEvent[end:]
		s = strings.Replace(s, ",,", ",", 1)
		s = strings.Replace(s, "{,", "{", 1)
		return strings.Replace(s, ",}", "}", 1)
	}
	return validEvent[:j] + raw + validEvent[end:]
}

func TestDecodeValid(t *testing.T) {
	var ev LoginEvent
	if err := Decode([]byte(validEvent), &ev); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if ev.EventID != "e1" || ev.UserID != "alice" || ev.Outcome != OutcomeFailure || !ev.OccurredAt.Equal(want) {
		t.Fatalf("decoded %+v", ev)
	}
	if ev.Addr.String() != "81.2.69.160" || ev.Attributes["app"] != "web" || ev.DeviceID != "d1" || ev.PasswordFP != "q3Zt0b9-x_2LmN4k" {
		t.Fatalf("decoded %+v", ev)
	}
}

func TestDecodeFieldErrors(t *testing.T) {
	long := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	tests := []struct {
		name      string
		input     string
		field     string
		reasonHas string
	}{
		{"not json", `{"event_id":`, "", "malformed JSON"},
		{"not an object", `[1,2]`, "", "JSON object"},
		{"trailing data", validEvent + `{}`, "", "trailing"},
		{"event_id missing", withField(t, "event_id", ""), "event_id", "required"},
		{"event_id number", withField(t, "event_id", `42`), "event_id", "must be a string"},
		{"event_id too long", withField(t, "event_id", long(129)), "event_id", "more than the 128"},
		{"occurred_at missing", withField(t, "occurred_at", ""), "occurred_at", "required"},
		{"occurred_at no zone", withField(t, "occurred_at", `"2026-03-01T10:00:00"`), "occurred_at", "RFC 3339"},
		{"occurred_at garbage", withField(t, "occurred_at", `"yesterday"`), "occurred_at", "RFC 3339"},
		{"occurred_at number", withField(t, "occurred_at", `1700000000`), "occurred_at", "must be a string"},
		{"occurred_at year 1970", withField(t, "occurred_at", `"1970-01-01T00:00:00Z"`), "occurred_at", "out of range"},
		{"user_id missing", withField(t, "user_id", ""), "user_id", "required"},
		{"user_id empty", withField(t, "user_id", `""`), "user_id", "required"},
		{"user_id too long", withField(t, "user_id", long(257)), "user_id", "more than the 256"},
		{"user_id control char", withField(t, "user_id", `"al\u0000ice"`), "user_id", "control character"},
		{"outcome missing", withField(t, "outcome", ""), "outcome", "required"},
		{"outcome unknown", withField(t, "outcome", `"maybe"`), "outcome", `"maybe" is not one of`},
		{"outcome bool", withField(t, "outcome", `true`), "outcome", "must be a string"},
		{"ip missing", withField(t, "ip", ""), "ip", "required"},
		{"ip bad octet", withField(t, "ip", `"999.1.1.1"`), "ip", `"999.1.1.1" is not an IP address`},
		{"ip leading zeros", withField(t, "ip", `"010.1.1.1"`), "ip", "not an IP address"},
		{"ip zone", withField(t, "ip", `"fe80::1%eth0"`), "ip", "not an IP address"},
		{"ip hostname", withField(t, "ip", `"example.com"`), "ip", "not an IP address"},
		{"user_agent too long", withField(t, "user_agent", long(2049)), "user_agent", "more than the 2048"},
		{"device_id too long", withField(t, "device_id", long(257)), "device_id", "more than the 256"},
		{"device_id object", withField(t, "device_id", `{}`), "device_id", "must be a string"},
		{"failure_reason unknown", withField(t, "failure_reason", `"cosmic_rays"`), "failure_reason", "is not one of"},
		{"auth_method unknown", withField(t, "auth_method", `"carrier_pigeon"`), "auth_method", "is not one of"},
		{"tenant_id too long", withField(t, "tenant_id", long(257)), "tenant_id", "more than the 256"},
		{"challenge_of without mfa", withChallengeOf(`"e0"`), "challenge_of", "needs auth_method mfa"},
		{"challenge_of too long", strings.Replace(withChallengeOf(long(129)), `"password"`, `"mfa"`, 1), "challenge_of", "more than the 128"},
		{"challenge_of itself", strings.Replace(withChallengeOf(`"e1"`), `"password"`, `"mfa"`, 1), "challenge_of", "names the event itself"},
		{"challenge_of number", withChallengeOf(`7`), "challenge_of", "must be a string"},
		{"password_fp too short", withField(t, "password_fp", `"q3Zt0b9-x_2LmN4"`), "password_fp", "is 15 bytes; it must be exactly 16 base64url"},
		{"password_fp too long", withField(t, "password_fp", `"q3Zt0b9-x_2LmN4kA"`), "password_fp", "is 17 bytes"},
		{"password_fp padded", withField(t, "password_fp", `"q3Zt0b9-x_2LmN=="`), "password_fp", "outside base64url at byte 14"},
		{"password_fp standard base64", withField(t, "password_fp", `"q3Zt0b9+x/2LmN4k"`), "password_fp", "outside base64url at byte 7"},
		{"password_fp hex of a full hash", withField(t, "password_fp", `"`+strings.Repeat("ab", 32)+`"`), "password_fp", "is 64 bytes"},
		{"password_fp control char", withField(t, "password_fp", `"q3Zt0b9-x_2L\u0000N4k"`), "password_fp", "outside base64url at byte 12"},
		{"password_fp number", withField(t, "password_fp", `12`), "password_fp", "must be a string"},
		{"attributes array", withField(t, "attributes", `[1]`), "attributes", "object of strings"},
		{"attributes number value", withField(t, "attributes", `{"a":1}`), "attributes", "object of strings"},
		{"attributes newline", withField(t, "attributes", `{"a":"x\ny"}`), "attributes.a", "control character"},
		{"invalid utf-8", strings.Replace(validEvent, "alice", "al\xffice", 1), "user_id", "UTF-8"},
		{"oversize message", `{"event_id":"e","pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`, "", "bytes, more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev LoginEvent
			err := Decode([]byte(tt.input), &ev)
			if err == nil {
				t.Fatalf("Decode(%s) succeeded, want an error on %q", tt.input, tt.field)
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (error: %v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.reasonHas) {
				t.Errorf("error %q does not contain %q", err, tt.reasonHas)
			}
			// The fingerprint is never quoted: the error goes to the
			// dead-letter headers and to HTTP answers.
			if strings.Contains(err.Error(), "q3Zt0b9") || strings.Contains(err.Error(), "abab") {
				t.Errorf("error %q quotes the password_fp", err)
			}
		})
	}
}

// TestPasswordFingerprint checks which events the features read a
// password_fp from, and its decoding: the first 64 bits of the 12 bytes.
func TestPasswordFingerprint(t *testing.T) {
	failure := LoginEvent{Outcome: OutcomeFailure, PasswordFP: "AAAAAAAAAAAAAAAA"}
	tests := []struct {
		name   string
		ev     LoginEvent
		wantFP uint64
		wantOK bool
	}{
		{"zero", failure, 0, true},
		// 0xfb 0xff 0xbf ... : "-_-_" is 62,63,62,63 = 111110 111111 111110 111111.
		{"high bits", LoginEvent{Outcome: OutcomeFailure, PasswordFP: "-_-_AAAAAAAAAAAA"}, 0xfbffbf << 40, true},
		// The eleventh character's top 4 bits are the last of the 64.
		{"last bits", LoginEvent{Outcome: OutcomeFailure, PasswordFP: "AAAAAAAAAA8AAAAA"}, 0xf, true},
		{"success", LoginEvent{Outcome: OutcomeSuccess, PasswordFP: "AAAAAAAAAAAAAAAB"}, 0, true},
		{"second factor", LoginEvent{Outcome: OutcomeFailure, AuthMethod: AuthMethodMFA, PasswordFP: "AAAAAAAAAAAAAAAA"}, 0, false},
		{"none", LoginEvent{Outcome: OutcomeFailure}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, ok := tt.ev.PasswordFingerprint()
			if fp != tt.wantFP || ok != tt.wantOK {
				t.Errorf("PasswordFingerprint() = %#x, %t; want %#x, %t", fp, ok, tt.wantFP, tt.wantOK)
			}
		})
	}
}

func TestDecodeNormalises(t *testing.T) {
	tests := []struct {
		name     string
		ip       string
		wantAddr string
	}{
		{"ipv4", "81.2.69.160", "81.2.69.160"},
		{"ipv6", "2a02:db8:1::7", "2a02:db8:1::7"},
		{"v4-mapped v6 is unmapped", "::ffff:81.2.69.160", "81.2.69.160"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev LoginEvent
			if err := Decode([]byte(withField(t, "ip", `"`+tt.ip+`"`)), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Addr.String() != tt.wantAddr {
				t.Errorf("Addr = %s, want %s", ev.Addr, tt.wantAddr)
			}
		})
	}
	var ev LoginEvent
	if err := Decode([]byte(withField(t, "occurred_at", `"2026-03-01T12:00:00+02:00"`)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.OccurredAt.Location() != time.UTC || ev.OccurredAt.Hour() != 10 {
		t.Errorf("occurred_at not normalised to UTC: %v", ev.OccurredAt)
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	var ev LoginEvent
	in := strings.Replace(validEvent, `{`, `{"something_new":{"x":[1,2]},`, 1)
	if err := Decode([]byte(in), &ev); err != nil {
		t.Fatalf("unknown field rejected: %v", err)
	}
}

// TestUserKey: the default tenant's key is the user id; other tenants'
// keys differ from it and from each other, and split back.
func TestUserKey(t *testing.T) {
	tests := []struct{ tenant, user string }{
		{"", "bob"}, {"acme", "bob"}, {"globex", "bob"}, {"acme", "bo"}, {"acm", "ebob"}, {"a|b", "c/d"},
	}
	seen := map[string]int{}
	for i, tt := range tests {
		k := UserKey(tt.tenant, tt.user)
		if prev, dup := seen[k]; dup {
			t.Errorf("UserKey(%q, %q) = %q, the key of case %d too", tt.tenant, tt.user, k, prev)
		}
		seen[k] = i
		if tenant, user := SplitUserKey(k); tenant != tt.tenant || user != tt.user {
			t.Errorf("SplitUserKey(UserKey(%q, %q)) = %q, %q", tt.tenant, tt.user, tenant, user)
		}
		if tt.tenant == "" && k != tt.user {
			t.Errorf("default tenant's key %q, want the user id %q", k, tt.user)
		}
		// The separator is a byte Validate refuses in both fields.
		ev := LoginEvent{EventID: "e", OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UserID: tt.user + userKeySeparator, Outcome: OutcomeSuccess, IP: "1.2.3.4", TenantID: tt.tenant}
		if err := Validate(&ev); err == nil {
			t.Errorf("a user id with the separator validates")
		}
		ev.UserID, ev.TenantID = tt.user, "t"+userKeySeparator
		if err := Validate(&ev); err == nil {
			t.Errorf("a tenant_id with the separator validates")
		}
	}
}

// TestClip: a value quoted in an error keeps its first 64 bytes, cut
// before a character that would not fit whole, and says it was cut.
func TestClip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "short", in: "bob", want: "bob"},
		{name: "exactly 64 bytes", in: strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		{name: "long", in: strings.Repeat("a", 65), want: strings.Repeat("a", 64) + "…"},
		{name: "a character across the cut", in: strings.Repeat("a", 63) + "é" + "b", want: strings.Repeat("a", 63) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clip(tc.in); got != tc.want {
				t.Errorf("Clip(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestDecoderInternsUserAgents: a Decoder's warm decode of a typical event
// allocates once (its identifiers' string), where Decode also copies the
// user agent; a user agent longer than internMaxLen is copied as before.
func TestDecoderInternsUserAgents(t *testing.T) {
	data := []byte(benchEvents[0].input) // ipv4_ua
	dec := NewDecoder()
	var ev LoginEvent
	decode := func(d func([]byte, *LoginEvent) error) func() {
		return func() {
			if err := d(data, &ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := testing.AllocsPerRun(100, decode(Decode)); got != 2 {
		t.Fatalf("Decode: %v allocations per event, want 2 (identifiers, user agent)", got)
	}
	if got := testing.AllocsPerRun(100, decode(dec.Decode)); got != 1 {
		t.Fatalf("Decoder.Decode: %v allocations per event, want 1 (identifiers)", got)
	}
	if ev.UserAgent == "" || !strings.HasPrefix(ev.UserAgent, "Mozilla/5.0") {
		t.Fatalf("user agent %q", ev.UserAgent)
	}
	data = []byte(strings.Replace(benchEvents[0].input, "Mozilla/5.0", strings.Repeat("a", internMaxLen), 1))
	if got := testing.AllocsPerRun(100, decode(dec.Decode)); got != 2 || len(ev.UserAgent) <= internMaxLen {
		t.Fatalf("Decoder.Decode of a %d-byte user agent: %v allocations, want 2", len(ev.UserAgent), got)
	}
}
