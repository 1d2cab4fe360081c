package schemas

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// benchEvents are typical messages: the benchmarks time them and
// TestDecodeFastMatchesSlow holds the fast path to handling them.
var benchEvents = []struct {
	name  string
	input string
}{
	{"ipv4_ua", `{"event_id":"0b6f3c1e-7a4d-4a51-9a0e-3f8f2d1c9b7a","occurred_at":"2026-03-01T10:00:00.123Z","user_id":"user-12345","outcome":"failure","ip":"81.2.69.160","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36","failure_reason":"bad_password","auth_method":"password"}`},
	{"challenge end", `{"event_id":"c1","occurred_at":"2026-03-01T12:00:05Z","user_id":"bob@example.com","outcome":"success","ip":"81.2.69.160","device_id":"dev-1","auth_method":"mfa","challenge_of":"e-challenged","tenant_id":"acme"}`},
	{"ipv6", `{"event_id":"5d1c7e2a-93b4-4f0e-8c6d-2b7a1e9f4c30","occurred_at":"2026-03-01T12:00:00+02:00","user_id":"bob@example.com","outcome":"success","ip":"2a02:db8:85a3::8a2e:370:7334","device_id":"dev-9f8e7d","auth_method":"passkey","tenant_id":"acme"}`},
	{"all_fields", validEvent},
}

// staleEvent is what the events under test hold before decoding, so that
// a path that writes ev and then gives up shows in the comparison.
func staleEvent() LoginEvent {
	return LoginEvent{
		EventID: "stale", OccurredAt: time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC), UserID: "stale",
		Outcome: OutcomeSuccess, IP: "192.0.2.1", UserAgent: "stale", DeviceID: "stale", FailureReason: "other",
		AuthMethod: "sso", TenantID: "stale", PasswordFP: "stale", Attributes: map[string]string{"stale": "stale"},
		Addr: netip.MustParseAddr("192.0.2.1"),
	}
}

// compareWithSlow decodes input with decodeFast (then decodeSlow if the
// fast path gives up, as Decode does) and with decodeSlow alone, and fails
// tb on any difference in the event or the error. It returns whether the
// fast path handled the input.
func compareWithSlow(tb testing.TB, input []byte) (handled bool) {
	tb.Helper()
	slowEv, fastEv := staleEvent(), staleEvent()
	slowErr := decodeSlow(input, &slowEv)
	handled, fastErr := decodeFast(input, &fastEv, nil)
	if !handled {
		if !reflect.DeepEqual(fastEv, staleEvent()) {
			tb.Fatalf("decodeFast gave up on %q but changed the event to %+v", input, fastEv)
		}
		fastErr = decodeSlow(input, &fastEv)
	}
	if !slowCanGive(input, fastErr, slowErr) {
		tb.Fatalf("input %q (fast path handled it: %t):\nfast error %v\nslow error %v", input, handled, fastErr, slowErr)
	}
	if !fastEv.OccurredAt.Equal(slowEv.OccurredAt) || fastEv.OccurredAt.Location() != slowEv.OccurredAt.Location() {
		tb.Fatalf("input %q: OccurredAt fast %v (%v), slow %v (%v)", input,
			fastEv.OccurredAt, fastEv.OccurredAt.Location(), slowEv.OccurredAt, slowEv.OccurredAt.Location())
	}
	if fastEv.Addr != slowEv.Addr {
		tb.Fatalf("input %q: Addr fast %v, slow %v", input, fastEv.Addr, slowEv.Addr)
	}
	if !reflect.DeepEqual(fastEv, slowEv) {
		tb.Fatalf("input %q (fast path handled it: %t):\nfast %#v\nslow %#v", input, handled, fastEv, slowEv)
	}
	// A Decoder that interns user agents decodes the same, the first
	// time (the agent copied into its table) and the second (taken from
	// it).
	dec := NewDecoder()
	for round := range 2 {
		ev := staleEvent()
		err := dec.Decode(input, &ev)
		if !slowCanGive(input, err, slowErr) || !reflect.DeepEqual(ev, slowEv) {
			tb.Fatalf("input %q, Decoder round %d:\nevent %#v, error %v\nslow %#v, error %v", input, round, ev, err, slowEv, slowErr)
		}
	}
	return handled
}

// slowCanGive reports whether decodeSlow, which gave slowErr for input,
// can give err. It can give several: when more than one field is bad, the
// error names the first one met in a map iteration (invalidUTF8Field, the
// attributes loop of Validate), whose order Go randomises.
func slowCanGive(input []byte, err, slowErr error) bool {
	for range 64 {
		if fmt.Sprint(err) == fmt.Sprint(slowErr) && reflect.DeepEqual(err, slowErr) {
			return true
		}
		ev := staleEvent()
		slowErr = decodeSlow(input, &ev)
	}
	return false
}

// fastCase is an input for TestDecodeFastMatchesSlow; fast says whether
// decodeFast handles it rather than leaving it to decodeSlow.
type fastCase struct {
	name  string
	input string
	fast  bool
}

func TestDecodeFastMatchesSlow(t *testing.T) {
	long := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	replace := func(old, new string) string {
		if !strings.Contains(validEvent, old) {
			t.Fatalf("%q not in validEvent", old)
		}
		return strings.Replace(validEvent, old, new, 1)
	}
	withKey := func(old, new string) string { return replace(`"`+old+`":`, `"`+new+`":`) }
	prepend := func(members string) string { return replace(`{`, `{`+members+`,`) }
	deep := func(n int) string { return strings.Repeat(`[`, n) + strings.Repeat(`]`, n) }
	tests := []fastCase{
		// The cases of TestDecodeFieldErrors.
		{"not json", `{"event_id":`, false},
		{"not an object", `[1,2]`, false},
		{"trailing data", validEvent + `{}`, false},
		{"event_id missing", withField(t, "event_id", ""), true},
		{"event_id number", withField(t, "event_id", `42`), false},
		{"event_id too long", withField(t, "event_id", long(129)), true},
		{"occurred_at missing", withField(t, "occurred_at", ""), false},
		{"occurred_at no zone", withField(t, "occurred_at", `"2026-03-01T10:00:00"`), false},
		{"occurred_at garbage", withField(t, "occurred_at", `"yesterday"`), false},
		{"occurred_at number", withField(t, "occurred_at", `1700000000`), false},
		{"occurred_at year 1970", withField(t, "occurred_at", `"1970-01-01T00:00:00Z"`), true},
		{"user_id missing", withField(t, "user_id", ""), true},
		{"user_id empty", withField(t, "user_id", `""`), true},
		{"user_id too long", withField(t, "user_id", long(257)), true},
		{"user_id control char", withField(t, "user_id", `"al\u0000ice"`), true},
		{"outcome missing", withField(t, "outcome", ""), true},
		{"outcome unknown", withField(t, "outcome", `"maybe"`), true},
		{"outcome bool", withField(t, "outcome", `true`), false},
		{"ip missing", withField(t, "ip", ""), true},
		{"ip bad octet", withField(t, "ip", `"999.1.1.1"`), true},
		{"ip leading zeros", withField(t, "ip", `"010.1.1.1"`), true},
		{"ip zone", withField(t, "ip", `"fe80::1%eth0"`), true},
		{"ip hostname", withField(t, "ip", `"example.com"`), true},
		{"user_agent too long", withField(t, "user_agent", long(2049)), true},
		{"device_id too long", withField(t, "device_id", long(257)), true},
		{"device_id object", withField(t, "device_id", `{}`), false},
		{"failure_reason unknown", withField(t, "failure_reason", `"cosmic_rays"`), true},
		{"auth_method unknown", withField(t, "auth_method", `"carrier_pigeon"`), true},
		{"tenant_id too long", withField(t, "tenant_id", long(257)), true},
		{"password_fp too short", withField(t, "password_fp", `"q3Zt0b9-x_2LmN4"`), true},
		{"password_fp padded", withField(t, "password_fp", `"q3Zt0b9-x_2LmN=="`), true},
		{"password_fp control char", withField(t, "password_fp", `"q3Zt0b9-x_2L\u0000N4k"`), true},
		{"password_fp escaped", withField(t, "password_fp", `"q3Zt0b9\u002dx_2LmN4k"`), true},
		{"password_fp null", withField(t, "password_fp", `null`), true},
		{"password_fp number", withField(t, "password_fp", `12`), false},
		{"password_fp upper-case key", withKey("password_fp", "Password_FP"), true},
		{"attributes array", withField(t, "attributes", `[1]`), false},
		{"attributes number value", withField(t, "attributes", `{"a":1}`), false},
		{"attributes newline", withField(t, "attributes", `{"a":"x\ny"}`), true},
		{"invalid utf-8", strings.Replace(validEvent, "alice", "al\xffice", 1), false},
		// Found by FuzzDecode: decodeSlow names a random one of the bad
		// fields (see slowCanGive).
		{"invalid utf-8 in two fields", "{\"2\":\"\xac22\",\"8\":\"\xa1\",\"7729\":{\"1z\":\"\"}}", false},
		{"two bad attributes", withField(t, "attributes", `{"a":"x\ny","b":"\u0001","c":"ok"}`), true},
		{"oversize message", `{"event_id":"e","pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`, false},

		// The other Decode tests.
		{"valid", validEvent, true},
		{"ipv6", withField(t, "ip", `"2a02:db8:1::7"`), true},
		{"v4-mapped v6", withField(t, "ip", `"::ffff:81.2.69.160"`), true},
		{"unknown nested field", prepend(`"something_new":{"x":[1,2]}`), true},

		// Whitespace and structure.
		{"whitespace everywhere", " \t\r\n{ \"event_id\" :\t\"e1\" ,\n\"occurred_at\"\r\n: \"2026-03-01T10:00:00Z\" , \"user_id\" : \"alice\",\"outcome\":\"success\" ,\"ip\":\"81.2.69.160\", \"attributes\" : { \"a\" : \"b\" , \"c\":\"d\" } , \"x\" : [ 1 , { } , [ ] , { \"y\" : null } ] } \n\t", true},
		{"empty object", `{}`, false},
		{"empty input", ``, false},
		{"only whitespace", " \n", false},
		{"top-level null", `null`, false},
		{"top-level string", `"x"`, false},
		{"byte order mark", "\ufeff" + validEvent, false},
		{"extra closing brace", validEvent + `}`, false},
		{"extra closing bracket", validEvent + ` ]`, false},
		{"trailing comma", replace(`}}`, `},}`), false},
		{"missing comma", replace(`,"user_id"`, ` "user_id"`), false},
		{"missing colon", replace(`"user_id":`, `"user_id" `), false},
		{"unterminated string", `{"event_id":"e1`, false},
		{"unterminated after backslash", `{"event_id":"e1\`, false},
		{"key not a string", replace(`"event_id"`, `event_id`), false},
		{"raw control character in value", replace(`alice`, "al\tice"), false},
		{"raw DEL in value", replace(`alice`, "al\x7fice"), true},
		{"truncated", validEvent[:len(validEvent)-1], false},

		// Strings.
		{"simple escapes", withField(t, "user_agent", `"a\"b\\c\/d"`), true},
		{"control escapes", withField(t, "user_agent", `"a\b\f\n\r\tb"`), true},
		{"bad escape", withField(t, "user_agent", `"a\xb"`), false},
		{"escaped apostrophe", withField(t, "user_agent", `"a\'b"`), false},
		{"short unicode escape", withField(t, "user_agent", `"\u00e"`), false},
		{"bad hex in escape", withField(t, "user_agent", `"\u00g9"`), false},
		{"unicode escapes", withField(t, "user_id", `"\u00e9l\u00E8ve\u65e5"`), true},
		{"escaped U+FFFD", withField(t, "user_id", `"a\ufffdb"`), true},
		{"surrogate pair", withField(t, "user_id", `"a\ud83d\ude00b"`), true},
		{"surrogate pair upper hex", withField(t, "user_id", `"\uD83D\uDE00"`), true},
		{"lone high surrogate", withField(t, "user_id", `"a\ud83db"`), false},
		{"lone high surrogate at end", withField(t, "user_id", `"a\ud83d"`), false},
		{"lone low surrogate", withField(t, "user_id", `"a\ude00b"`), false},
		{"reversed surrogate pair", withField(t, "user_id", `"\ude00\ud83d"`), false},
		{"high surrogate then simple escape", withField(t, "user_id", `"\ud83d\n"`), false},
		{"two high surrogates", withField(t, "user_id", `"\ud83d\ud83d\ude00"`), false},
		{"lone surrogate in unknown field", prepend(`"note":"\ud800"`), true},
		{"raw unicode", withField(t, "user_agent", `"ñ 日本 😀 \u2028"`), true},
		{"raw U+2028", withField(t, "user_agent", "\"a\u2028b\""), true},
		{"invalid utf-8 in unknown field", prepend("\"note\":\"\xc3\""), false},
		{"invalid utf-8 in key", prepend("\"n\xe2\x82\":1"), false},
		{"surrogate encoded as utf-8", withField(t, "user_agent", "\"\xed\xa0\x80\""), false},
		{"overlong utf-8", withField(t, "user_agent", "\"\xc0\xaf\""), false},
		{"escaped control char", withField(t, "device_id", `"d\u001f"`), true},
		{"escaped NUL in attribute key", withField(t, "attributes", `{"a\u0000":"x"}`), true},
		{"long escaped value", withField(t, "user_agent", `"`+strings.Repeat(`ab\"`, 100)+`"`), true},
		{"escaped interned values", replace(`"failure"`, `"f\u0061ilure"`), true},
		{"escaped enum", replace(`"bad_password"`, `"bad\u005fpassword"`), true},

		// Keys.
		{"escaped key", withKey("user_id", `\u0075ser_id`), true},
		{"upper-case key", withKey("user_id", "USER_ID"), true},
		{"mixed-case key", withKey("event_id", "Event_Id"), true},
		{"case variant of attributes", withKey("attributes", "Attributes"), true},
		{"long s key", withKey("user_id", "uſer_id"), true},
		{"long s in attributes", withKey("attributes", "attributeſ"), true},
		{"kelvin sign key", prepend(`"\u212a":"x"`), true},
		{"escaped case variant", withKey("outcome", `\u004futcome`), true},
		{"exact then case variant", prepend(`"USER_ID":"bob"`), true},
		{"case variant then exact", replace(`}}`, `},"User_Id":"bob"}`), true},
		{"non-ASCII unknown key", prepend(`"métadonnées":{"é":"ü"}`), true},
		{"empty key", prepend(`"":1`), true},
		{"key close to a field", prepend(`"user_idx":1,"user_i":2,"_user_id":3`), true},

		// Duplicates and null.
		{"duplicate key last wins", replace(`}}`, `},"user_id":"bob"}`), true},
		{"duplicate key then null", replace(`}}`, `},"user_id":null}`), true},
		{"null string fields", replace(`}}`, `},"user_agent":null,"device_id":null,"failure_reason":null,"auth_method":null,"tenant_id":null}`), true},
		{"null required field", withField(t, "user_id", `null`), true},
		{"null ip", withField(t, "ip", `null`), true},
		{"null occurred_at", withField(t, "occurred_at", `null`), false},
		{"null attributes", withField(t, "attributes", `null`), true},
		{"empty attributes", withField(t, "attributes", `{}`), true},
		{"attributes repeated are merged", replace(`}}`, `},"attributes":{"b":"2","app":"api"}}`), true},
		{"attributes then null", replace(`}}`, `},"attributes":null}`), true},
		{"attributes null then object", `{"attributes":null,` + validEvent[1:], true},
		{"attribute value null", withField(t, "attributes", `{"a":null,"b":"x"}`), true},
		{"duplicate attribute key", withField(t, "attributes", `{"a":"1","a":"2"}`), true},
		{"escaped attribute key", withField(t, "attributes", `{"\u0061pp":"w\u00e9b"}`), true},
		{"attribute key with surrogate pair", withField(t, "attributes", `{"\ud83d\ude00":"x"}`), true},
		{"attribute key lone surrogate", withField(t, "attributes", `{"\ud83d":"x"}`), false},
		{"attribute value object", withField(t, "attributes", `{"a":{}}`), false},
		{"attribute value bool", withField(t, "attributes", `{"a":true}`), false},
		{"attributes trailing comma", withField(t, "attributes", `{"a":"b",}`), false},
		{"attributes missing colon", withField(t, "attributes", `{"a" "b"}`), false},
		{"attributes string", withField(t, "attributes", `"a"`), false},
		{"too many attributes", withField(t, "attributes", `{`+attributeMembers(33)+`}`), true},
		{"attribute key too long", withField(t, "attributes", `{`+long(1025)+`:"x"}`), true},
		{"attribute value too long", withField(t, "attributes", `{"a":`+long(1025)+`}`), true},
		{"null unknown field", prepend(`"x":null`), true},

		// Unknown fields of every type.
		{"unknown scalars", prepend(`"a":true,"b":false,"c":null,"d":"s","e":0,"f":-0,"g":1.5e10,"h":-1E-5,"i":12.0e+3,"j":123456789012345678901234567890`), true},
		{"unknown nested", prepend(`"x":{"a":[1,{"b":null,"c":[[],{}]}],"d":{"e":{"f":"g"}}}`), true},
		{"unknown deep within limit", prepend(`"x":` + deep(maxSkipDepth-1)), true},
		{"unknown deeper than fast path goes", prepend(`"x":` + deep(maxSkipDepth+1)), false},
		{"unknown deeper than encoding/json allows", prepend(`"x":` + deep(10001)), false},
		{"number leading zero", prepend(`"x":01`), false},
		{"number trailing dot", prepend(`"x":1.`), false},
		{"number leading dot", prepend(`"x":.5`), false},
		{"number lone minus", prepend(`"x":-`), false},
		{"number empty exponent", prepend(`"x":1e`), false},
		{"number exponent sign only", prepend(`"x":1e+`), false},
		{"number plus sign", prepend(`"x":+1`), false},
		{"number dot exponent", prepend(`"x":1.e5`), false},
		{"number double minus", prepend(`"x":--1`), false},
		{"number hex", prepend(`"x":0x10`), false},
		{"number NaN", prepend(`"x":NaN`), false},
		{"truncated literal", prepend(`"x":tru`), false},
		{"literal with suffix", prepend(`"x":nulll`), false},
		{"capitalised literal", prepend(`"x":True`), false},
		{"array trailing comma", prepend(`"x":[1,]`), false},
		{"array missing comma", prepend(`"x":[1 2]`), false},
		{"object in array missing value", prepend(`"x":[{"a"}]`), false},
		{"object with non-string key", prepend(`"x":{1:2}`), false},
		{"mismatched brackets", prepend(`"x":[}`), false},

		// occurred_at. Forms parseTimeRFC3339 does not take go to time.Parse,
		// which is laxer than RFC 3339 (",5", "+24:00") in both paths.
		{"fraction 1 digit", withField(t, "occurred_at", `"2026-03-01T10:00:00.1Z"`), true},
		{"fraction 9 digits", withField(t, "occurred_at", `"2026-03-01T10:00:00.123456789Z"`), true},
		{"fraction 10 digits", withField(t, "occurred_at", `"2026-03-01T10:00:00.1234567891Z"`), true},
		{"fraction without digits", withField(t, "occurred_at", `"2026-03-01T10:00:00.Z"`), false},
		{"fraction with comma", withField(t, "occurred_at", `"2026-03-01T10:00:00,5Z"`), true},
		{"positive offset", withField(t, "occurred_at", `"2026-03-01T12:00:00+02:00"`), true},
		{"negative offset with minutes", withField(t, "occurred_at", `"2026-03-01T04:30:00.5-05:30"`), true},
		{"offset across midnight and year", withField(t, "occurred_at", `"2026-01-01T00:30:00+01:00"`), true},
		{"zero offset", withField(t, "occurred_at", `"2026-03-01T10:00:00+00:00"`), true},
		{"negative zero offset", withField(t, "occurred_at", `"2026-03-01T10:00:00-00:00"`), true},
		{"offset 23:59", withField(t, "occurred_at", `"2026-03-01T10:00:00-23:59"`), true},
		{"offset hour 24", withField(t, "occurred_at", `"2026-03-01T10:00:00+24:00"`), true},
		{"offset minute 60", withField(t, "occurred_at", `"2026-03-01T10:00:00+01:60"`), true},
		{"offset without colon", withField(t, "occurred_at", `"2026-03-01T10:00:00+0100"`), false},
		{"lower-case t and z", withField(t, "occurred_at", `"2026-03-01t10:00:00z"`), false},
		{"space instead of T", withField(t, "occurred_at", `"2026-03-01 10:00:00Z"`), false},
		{"leap day", withField(t, "occurred_at", `"2024-02-29T23:59:59Z"`), true},
		{"leap day in 2000", withField(t, "occurred_at", `"2000-02-29T00:00:00Z"`), true},
		{"no leap day in 2100", withField(t, "occurred_at", `"2100-02-29T00:00:00Z"`), false},
		{"not a leap year", withField(t, "occurred_at", `"2026-02-29T00:00:00Z"`), false},
		{"april 31", withField(t, "occurred_at", `"2026-04-31T00:00:00Z"`), false},
		{"month 13", withField(t, "occurred_at", `"2026-13-01T00:00:00Z"`), false},
		{"month 0", withField(t, "occurred_at", `"2026-00-01T00:00:00Z"`), false},
		{"day 0", withField(t, "occurred_at", `"2026-01-00T00:00:00Z"`), false},
		{"hour 24", withField(t, "occurred_at", `"2026-03-01T24:00:00Z"`), false},
		{"second 60", withField(t, "occurred_at", `"2026-03-01T23:59:60Z"`), false},
		{"year 0", withField(t, "occurred_at", `"0000-01-01T00:00:00Z"`), true},
		{"year 0 with offset", withField(t, "occurred_at", `"0000-01-01T00:00:00+01:00"`), true},
		{"year 1999", withField(t, "occurred_at", `"1999-12-31T23:59:59.999999999Z"`), true},
		{"year 9999", withField(t, "occurred_at", `"9999-12-31T23:59:59Z"`), true},
		{"offset into year 10000", withField(t, "occurred_at", `"9999-12-31T23:59:59-01:00"`), true},
		{"five-digit year", withField(t, "occurred_at", `"10000-01-01T00:00:00Z"`), false},
		{"signed digits", withField(t, "occurred_at", `"2026-+3-01T10:00:00Z"`), false},
		{"escaped occurred_at", withField(t, "occurred_at", `"2026-03-01T10:00:00\u005a"`), true},
		{"empty occurred_at", withField(t, "occurred_at", `""`), false},
		{"occurred_at duplicate", replace(`}}`, `},"occurred_at":"2026-03-02T10:00:00Z"}`), true},
		{"occurred_at duplicate null", replace(`}}`, `},"occurred_at":null}`), true},
	}
	for _, b := range benchEvents {
		tests = append(tests, fastCase{"bench " + b.name, b.input, true})
	}
	// A special byte at every offset of a string, so that each lane of the
	// eight-byte scan in scanString meets one.
	for _, special := range []struct {
		name, text string
		fast       bool
	}{
		{"quote", `\"`, true}, {"backslash", `\\`, true}, {"unicode", "é", true}, {"emoji", "😀", true},
		{"control", "\x01", false}, {"invalid utf-8", "\xff", false}, {"DEL", "\x7f", true},
	} {
		for i := 0; i <= 17; i++ {
			ua := `"` + strings.Repeat("m", i) + special.text + strings.Repeat("z", 17-i) + `"`
			tests = append(tests, fastCase{fmt.Sprintf("%s at offset %d", special.name, i), withField(t, "user_agent", ua), special.fast})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if handled := compareWithSlow(t, []byte(tt.input)); handled != tt.fast {
				t.Errorf("decodeFast handled it: %t, want %t", handled, tt.fast)
			}
		})
	}
}

func attributeMembers(n int) string {
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return strings.Join(members, ",")
}

func TestParseTimeRFC3339MatchesTimeParse(t *testing.T) {
	// Every third day from 1999 to 2002 (2000 is a leap year by the
	// 400-year rule), at shifting times of day, with each zone form.
	start := time.Date(1999, 12, 25, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 3*366; d += 3 {
		for _, suffix := range []string{"Z", ".5Z", ".000000001+14:00", "-23:59", "+00:30"} {
			s := start.AddDate(0, 0, d).Add(time.Duration(d)*37*time.Second).Format("2006-01-02T15:04:05") + suffix
			want, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := parseTimeRFC3339([]byte(s))
			if !ok || !reflect.DeepEqual(got, want.UTC()) {
				t.Fatalf("parseTimeRFC3339(%s) = %v, %t; want %v", s, got, ok, want.UTC())
			}
		}
	}
}

// fuzzFrames place the fuzzed bytes where decodeFast does its work: as
// the whole message, and inside an otherwise valid event (random bytes
// alone rarely make one, and decodeFast hands everything else to
// decodeSlow).
var fuzzFrames = []struct{ name, before, after string }{
	{"message", ``, ``},
	{"members", fuzzEventStart + `,`, `}`},
	{"string", fuzzEventStart + `,"user_agent":"`, `"}`},
	{"unknown value", fuzzEventStart + `,"x":`, `}`},
	{"key", fuzzEventStart + `,"`, `":"v"}`},
	{"occurred_at", `{"occurred_at":"`, `",` + fuzzEventStart[1:] + `}`},
	{"attributes", fuzzEventStart + `,"attributes":`, `}`},
	{"password_fp", `{"outcome":"failure",` + fuzzEventStart[1:] + `,"password_fp":"`, `"}`},
}

const fuzzEventStart = `{"event_id":"e","occurred_at":"2026-03-01T10:00:00Z","user_id":"u","outcome":"success","ip":"1.2.3.4"`

func FuzzDecode(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzDecode.
	for _, b := range benchEvents {
		f.Add([]byte(b.input))
	}
	for _, seed := range []string{`"user_id":"x","User_ID":"y"`, `a\"\u00e9\ud83d\ude00\n`, `[1,{"a":null},-0.5e3]`, `uſer_id`, `2026-03-01T10:00:00.5+01:00`, `{"a":"b","a":null}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, frame := range fuzzFrames {
			input := make([]byte, 0, len(frame.before)+len(data)+len(frame.after))
			input = append(append(append(input, frame.before...), data...), frame.after...)
			compareWithSlow(t, input)
		}
	})
}

// BenchmarkDecodeFast times Decode on typical events, which the fast path
// handles; BenchmarkDecodeSlow times the encoding/json path on the same.
func BenchmarkDecodeFast(b *testing.B) {
	for _, bb := range benchEvents {
		b.Run(bb.name, func(b *testing.B) {
			data := []byte(bb.input)
			var ev LoginEvent
			if handled, err := decodeFast(data, &ev, nil); !handled || err != nil {
				b.Fatalf("decodeFast handled it: %t, error: %v", handled, err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := Decode(data, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeSlow(b *testing.B) {
	for _, bb := range benchEvents {
		b.Run(bb.name, func(b *testing.B) {
			data := []byte(bb.input)
			var ev LoginEvent
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := decodeSlow(data, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
