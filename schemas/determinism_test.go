package schemas

import (
	"errors"
	"strings"
	"testing"
)

// TestErrorFieldIsDeterministic decodes messages with several bad fields
// many times: the error must be the same every time (the bad field with the
// smallest key), though the fields sit in maps whose order Go randomises.
func TestErrorFieldIsDeterministic(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantField string
	}{
		{
			name:      "bad attribute values",
			input:     withField(t, "attributes", `{"m":"x\ny","c":"\u0001","z":"\u001b","a":"ok","q":"\u0000"}`),
			wantField: "attributes.c",
		},
		{
			name:      "bad attribute key and values",
			input:     withField(t, "attributes", `{"m":"x\ny","b\u0000":"v","z":"\u001b"}`),
			wantField: "attributes", // the key "b\x00" sorts before "m"
		},
		{
			name:      "invalid UTF-8 in several fields",
			input:     strings.NewReplacer("alice", "al\xffice", "Mozilla", "Mo\xfezilla", `"d1"`, "\"d\xc3\"", `"t1"`, "\"t\xff\"").Replace(validEvent),
			wantField: "device_id",
		},
		{
			name:      "invalid UTF-8 in attribute values and unknown fields",
			input:     strings.Replace(validEvent, `"attributes":{"app":"web"}`, "\"zz\":\"\xff\",\"attributes\":{\"b\":\"\xff\",\"a\":\"\xfe\"},\"note\":\"\xc3\"", 1),
			wantField: "attributes",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first string
			for i := range 200 {
				var ev LoginEvent
				err := Decode([]byte(tc.input), &ev)
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("Decode: %v, want a *FieldError", err)
				}
				if fe.Field != tc.wantField {
					t.Fatalf("run %d: field %q (%v), want %q", i, fe.Field, err, tc.wantField)
				}
				if i == 0 {
					first = err.Error()
				} else if err.Error() != first {
					t.Fatalf("run %d: error %q, the first run said %q", i, err, first)
				}
			}
		})
	}
}
