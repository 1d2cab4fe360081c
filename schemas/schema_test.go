package schemas

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T, name string, data []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return s
}

// jsonFields returns the JSON names of a struct's encoded fields and which
// of them are always present (no omitempty).
func jsonFields(typ reflect.Type) (names, always []string) {
	for f := range typ.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(names)
	sort.Strings(always)
	return names, always
}

type rawSchema struct {
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func TestSchemasMatchGoTypes(t *testing.T) {
	tests := []struct {
		name   string
		schema []byte
		typ    reflect.Type
		// required lists the fields the schema must require; for Decision
		// that is every field the encoder always writes.
		requiredFromTag bool
	}{
		{"login_event.schema.json", LoginEventSchema(), reflect.TypeFor[LoginEvent](), false},
		{"decision.schema.json", DecisionSchema(), reflect.TypeFor[Decision](), true},
		{"decision.lock", nil, reflect.TypeFor[Lock](), true},
		{"decision.reasons", nil, reflect.TypeFor[Reason](), true},
	}
	var decision rawSchema
	if err := json.Unmarshal(DecisionSchema(), &decision); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s rawSchema
			switch tt.name {
			case "decision.lock":
				mustUnmarshal(t, decision.Properties["lock"], &s)
			case "decision.reasons":
				var arr struct{ Items rawSchema }
				mustUnmarshal(t, decision.Properties["reasons"], &arr)
				s = arr.Items
			default:
				mustUnmarshal(t, tt.schema, &s)
			}
			names, always := jsonFields(tt.typ)
			var props []string
			for k := range s.Properties {
				props = append(props, k)
			}
			sort.Strings(props)
			if !slices.Equal(names, props) {
				t.Errorf("Go fields %v != schema properties %v", names, props)
			}
			if tt.requiredFromTag {
				req := slices.Clone(s.Required)
				sort.Strings(req)
				if !slices.Equal(req, always) {
					t.Errorf("schema requires %v, Go always encodes %v", req, always)
				}
			}
		})
	}
	// The event's required fields are exactly those Validate requires.
	var ev rawSchema
	mustUnmarshal(t, LoginEventSchema(), &ev)
	for _, f := range ev.Required {
		var e LoginEvent
		if err := Decode([]byte(withField(t, f, "")), &e); err == nil || !strings.Contains(err.Error(), f+": is required") {
			t.Errorf("schema requires %s but Decode without it gives %v", f, err)
		}
	}
}

// TestLockScopeEnumIsLockScopes: the decision schema's lock scopes are
// exactly LockScopes, in its order, and each is Valid.
func TestLockScopeEnumIsLockScopes(t *testing.T) {
	var decision rawSchema
	mustUnmarshal(t, DecisionSchema(), &decision)
	var lock struct {
		Properties struct {
			Scope struct {
				Enum []LockScope `json:"enum"`
			} `json:"scope"`
		} `json:"properties"`
	}
	mustUnmarshal(t, decision.Properties["lock"], &lock)
	if got := lock.Properties.Scope.Enum; !slices.Equal(got, LockScopes()) {
		t.Errorf("decision.schema.json lock scopes %v, want LockScopes() %v", got, LockScopes())
	}
	for _, sc := range LockScopes() {
		if !sc.Valid() {
			t.Errorf("%s is listed but not Valid", sc)
		}
	}
	if LockScope("account").Valid() {
		t.Error("an unknown scope is Valid")
	}
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestEncodedValuesValidate(t *testing.T) {
	evSchema := compileSchema(t, "login_event.schema.json", LoginEventSchema())
	decSchema := compileSchema(t, "decision.schema.json", DecisionSchema())

	var ev LoginEvent
	if err := Decode([]byte(validEvent), &ev); err != nil {
		t.Fatal(err)
	}
	roundTrip := func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	if err := evSchema.Validate(roundTrip(&ev)); err != nil {
		t.Errorf("encoded LoginEvent fails its schema: %v", err)
	}
	challengeEnd := ev
	challengeEnd.EventID, challengeEnd.AuthMethod, challengeEnd.ChallengeOf = "c1", AuthMethodMFA, "e1"
	if err := Validate(&challengeEnd); err != nil {
		t.Fatalf("a challenge end does not validate: %v", err)
	}
	if err := evSchema.Validate(roundTrip(&challengeEnd)); err != nil {
		t.Errorf("encoded challenge end fails its schema: %v", err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	decisions := []Decision{
		{EventID: "e1", UserID: "alice", IP: "81.2.69.160", OccurredAt: at, DecidedAt: at, Score: 0, Decision: VerdictAllow, Reasons: []Reason{}, RulesVersion: "abc"},
		{EventID: "e2", UserID: "alice", IP: "81.2.69.160", OccurredAt: at, DecidedAt: at, Score: 70, Decision: VerdictLockout,
			Lock:    &Lock{Scope: ScopeUserIP, Key: "alice|81.2.69.160", Until: at.Add(10 * time.Minute), Rule: "failure_burst"},
			Reasons: []Reason{{Rule: "failure_burst", Weight: 40, Detail: "5 failures in 15 min"}},
			Shadow:  []ShadowHit{{Rule: "new_rule", Weight: 10}}, RulesVersion: "abc"},
		{EventID: "feedback-e2", UserID: "alice", IP: "81.2.69.160", OccurredAt: at, DecidedAt: at, Decision: VerdictAllow, Reasons: []Reason{}, RulesVersion: "abc",
			Feedback: &FeedbackContext{Label: LabelFalsePositive, EventID: "e2", TenantID: "acme", Network: "81.2.69.0/24", DeviceID: "d1"}},
	}
	for _, d := range decisions {
		if err := decSchema.Validate(roundTrip(&d)); err != nil {
			t.Errorf("encoded Decision %s fails its schema: %v", d.EventID, err)
		}
	}
	// The schema must reject what the Go validator rejects on the wire.
	for _, bad := range []string{
		withField(t, "outcome", `"maybe"`),
		withField(t, "ip", `"999.1.1.1"`),
		withField(t, "user_id", ""),
		withField(t, "event_id", `42`),
		withChallengeOf(`"e0"`), // needs auth_method mfa, as Validate says
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if evSchema.Validate(doc) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

// TestFeedbackLabelsInSchema keeps the decision schema's feedback labels
// equal to the ones the API accepts.
func TestFeedbackLabelsInSchema(t *testing.T) {
	var s struct {
		Properties struct {
			Feedback struct {
				Properties struct {
					Label struct{ Enum []string }
				}
			}
		}
	}
	mustUnmarshal(t, DecisionSchema(), &s)
	if got := s.Properties.Feedback.Properties.Label.Enum; !slices.Equal(got, FeedbackLabels()) {
		t.Errorf("decision.schema.json feedback labels %v, FeedbackLabels %v", got, FeedbackLabels())
	}
	for _, l := range FeedbackLabels() {
		if !FeedbackLabel(l).Valid() {
			t.Errorf("label %s is not Valid", l)
		}
	}
	if FeedbackLabel("fine").Valid() {
		t.Error("an unknown label is Valid")
	}
}

// TestLockLimitsInSchema keeps the published limits of a decision's lock
// equal to the ones the engine enforces on locks from outside.
func TestLockLimitsInSchema(t *testing.T) {
	var doc struct {
		Properties struct {
			Lock struct {
				Properties map[string]struct {
					MaxLength int `json:"maxLength"`
				} `json:"properties"`
			} `json:"lock"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(DecisionSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	lock := doc.Properties.Lock.Properties
	if got := lock["key"].MaxLength; got != MaxLockKeyLen {
		t.Errorf("decision.schema.json lock.key maxLength %d, MaxLockKeyLen %d", got, MaxLockKeyLen)
	}
	if got := lock["rule"].MaxLength; got != MaxRuleLen {
		t.Errorf("decision.schema.json lock.rule maxLength %d, MaxRuleLen %d", got, MaxRuleLen)
	}
}
