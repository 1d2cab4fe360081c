package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactPasswordFP(t *testing.T) {
	const fp = "q3Zt0b9-x_2LmN4k"
	tests := []struct {
		name, in, want string
		cut            bool
	}{
		{"none", `{"event_id":"e1","ip":"1.2.3.4"}`, `{"event_id":"e1","ip":"1.2.3.4"}`, false},
		{"middle", `{"event_id":"e1","password_fp":"` + fp + `","ip":"1.2.3.4"}`, `{"event_id":"e1","ip":"1.2.3.4"}`, false},
		{"first", `{"password_fp":"` + fp + `", "event_id":"e1"}`, `{"event_id":"e1"}`, false},
		{"last", `{"event_id":"e1" , "password_fp" : "` + fp + `" }`, `{"event_id":"e1" }`, false},
		{"only", `{ "password_fp":"` + fp + `" }`, `{  }`, false},
		{"twice, any case, escaped", `{"Password_FP":"` + fp + `","a":1,"password\u005ffp":"` + fp + `","PASSWORD_FP":null}`, `{"a":1}`, false},
		{"wrong type is left out too", `{"a":[1,{"b":2}],"password_fp":{"x":"` + fp + `"}}`, `{"a":[1,{"b":2}]}`, false},
		{"nested elsewhere stays (never read as the field)", `{"a":{"password_fp":"zz"}}`, `{"a":{"password_fp":"zz"}}`, false},
		{"malformed after it: cut where the walk stops", `{"event_id":"e1","password_fp":"` + fp + `","ip":1.2.3}`, `{"event_id":"e1","ip":1.2`, true},
		{"unterminated fingerprint", `{"event_id":"e1","password_fp":"` + fp[:5], `{"event_id":"e1",`, true},
		{"missing comma hides a member", `{"event_id":"e1" "password_fp":"` + fp + `"}`, `{"event_id":"e1"`, true},
		{"trailing data", `{"event_id":"e1"}{"password_fp":"` + fp + `"}`, `{"event_id":"e1"}`, true},
		{"not an object", `["password_fp","` + fp + `"]`, ``, true},
		{"invalid utf-8 in a value", "{\"event_id\":\"e\xff\",\"password_fp\":\"" + fp + "\"}", `{`, true},
		{"empty", ``, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := RedactPasswordFP([]byte(tt.in))
			if string(got) != tt.want || cut != tt.cut {
				t.Errorf("RedactPasswordFP(%s) = %s, cut %t; want %s, cut %t", tt.in, got, cut, tt.want, tt.cut)
			}
			if strings.Contains(string(got), fp[:5]) {
				t.Errorf("the redacted copy %s still holds the fingerprint", got)
			}
		})
	}
}

// FuzzRedactPasswordFP holds RedactPasswordFP to its promise on any
// message: the copy never decodes to an event with a password_fp, and a
// copy that is not cut decodes as the message did, password_fp aside.
func FuzzRedactPasswordFP(f *testing.F) {
	for _, b := range benchEvents {
		f.Add([]byte(b.input))
	}
	f.Add([]byte(`{"Password_FP":"q3Zt0b9-x_2LmN4k","a":1,"password\u005ffp":"x","pasſword_fp":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, frame := range fuzzFrames {
			input := make([]byte, 0, len(frame.before)+len(data)+len(frame.after))
			input = append(append(append(input, frame.before...), data...), frame.after...)
			out, cut := RedactPasswordFP(input)
			var raw map[string]json.RawMessage
			if json.Unmarshal(out, &raw) == nil {
				for k := range raw {
					if lookupField([]byte(k)) == fieldPasswordFP {
						t.Fatalf("RedactPasswordFP(%q) = %q keeps the member %q", input, out, k)
					}
				}
			}
			if cut {
				continue
			}
			var in, red LoginEvent
			inErr, redErr := decodeSlow(input, &in), decodeSlow(out, &red)
			if inErr == nil && (redErr != nil || in.EventID != red.EventID || in.UserID != red.UserID || in.IP != red.IP) {
				t.Fatalf("RedactPasswordFP(%q) = %q, which decodes to %+v, %v", input, out, red, redErr)
			}
		}
	})
}
